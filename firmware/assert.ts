// Assertions: programmer errors crash loudly; bad input never reaches these (it gets a status).

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
