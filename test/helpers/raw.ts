// The raw HTTP/1.x client the doctor uses, shared with the tests.
export { RawClient, get, request, type CloseKind, type RawResponse } from '../../src/doctor/wire.js';
