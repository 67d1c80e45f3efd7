/** The error `promise` rejects with; fails when it resolves. */
export async function rejection<E extends Error = Error & { code?: string }>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (err) {
    return err as E;
  }
  throw new Error('expected a rejection');
}
