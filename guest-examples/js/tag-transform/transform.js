// js-transform: tags JSON event data with who transformed it.
//
// Config: {"by": "javascript"} (optional; `by` defaults to "javascript").
//
// For each event whose data is a JSON object: adds `"transformedBy": <by>` to
// it and the header `transformed-by: <by>` to the record. An event whose data
// is not a JSON object fails with `invalid-event` (it is dead-lettered).
import { log } from 'kurrent:connector/logging@0.1.0';

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

let by = null;

// An `err` of a `result` is thrown: ComponentizeJS lowers a thrown value
// whose `payload` is the error record (or the record itself) into `err(...)`.
function fail(kind, message) {
  const error = new Error(message);
  error.payload = { kind, message };
  return error;
}

export function init(config) {
  let parsed;
  try {
    parsed = JSON.parse(config);
  } catch (e) {
    throw fail('fatal', `config is not valid JSON: ${e.message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw fail('fatal', 'config must be a JSON object');
  }
  const value = parsed.by ?? 'javascript';
  if (typeof value !== 'string' || value === '') {
    throw fail('fatal', 'config `by` must be a non-empty string');
  }
  by = value;
  log('info', `js-transform: tags events with transformedBy=${by}`);
}

function transformOne(event) {
  let value;
  try {
    value = JSON.parse(decoder.decode(event.data));
  } catch {
    value = null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { tag: 'fail', val: { kind: 'invalid-event', message: 'data is not a JSON object' } };
  }
  value.transformedBy = by;
  return {
    tag: 'emit',
    val: [
      {
        data: encoder.encode(JSON.stringify(value)),
        eventType: undefined,
        contentType: 'application/json',
        headers: [['transformed-by', by]],
      },
    ],
  };
}

export function transform(events) {
  if (by === null) {
    throw fail('fatal', 'transform called before init');
  }
  return events.map(transformOne);
}
