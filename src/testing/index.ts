/** express-connection-policy/testing: helpers that prove connection reuse or reset. */
export {};
