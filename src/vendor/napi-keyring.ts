export { AsyncEntry, Entry } from '@napi-rs/keyring';
