/** The WebSocket close code of a refused token: a client that sees it stops reconnecting. */
export const CLOSE_UNAUTHORIZED = 4401;
