// An answer of the simulated Plivo REST API that is not a success: Plivo's status and its
// `{ api_id, error }` body. Thrown by the simulator's API operations, rendered by PlivoApi.

export class PlivoApiError extends Error {
  override name = 'PlivoApiError';

  constructor(
    readonly status: 400 | 401 | 404 | 405 | 409 | 500,
    message: string,
  ) {
    super(message);
  }
}

export const badParam = (message: string): PlivoApiError => new PlivoApiError(400, message);
export const notFoundResource = (message: string): PlivoApiError => new PlivoApiError(404, message);
