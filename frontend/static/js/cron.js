// describeCron puts a five-field cron expression (or a descriptor) into
// words for the schedule editor's preview. The server parses and validates
// (GET /api/cron); this only reads the common forms and falls back to
// naming each field.

const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const monthNames = months.map((m) => m.slice(0, 3).toUpperCase());
const dayNames = days.map((d) => d.slice(0, 3).toUpperCase());

const descriptors = {
  '@yearly': 'once a year, at midnight on 1 January',
  '@annually': 'once a year, at midnight on 1 January',
  '@monthly': 'at midnight on the first day of every month',
  '@weekly': 'at midnight every Sunday',
  '@daily': 'every day at midnight',
  '@midnight': 'every day at midnight',
  '@hourly': 'every hour, on the hour',
};

function two(n) { return String(n).padStart(2, '0'); }

function named(v, names, offset) {
  const i = names.indexOf(v.toUpperCase());
  return i >= 0 ? String(i + offset) : v;
}

/** list turns a field into words with fmt for single values. */
function list(field, fmt) {
  return field.split(',').map((part) => {
    const [range, step] = part.split('/');
    let text;
    if (range === '*' || range === '?') text = step ? `every ${step}` : 'every';
    else if (range.includes('-')) {
      const [a, b] = range.split('-');
      text = `${fmt(a)} through ${fmt(b)}`;
    } else text = fmt(range);
    if (step && range !== '*' && range !== '?') text = `every ${step} from ${text}`;
    return text;
  }).join(', ');
}

function isNum(s) { return /^\d+$/.test(s); }

/** describeCron returns a sentence, or '' when the expression is not five fields. */
export function describeCron(expr) {
  const spec = (expr || '').trim();
  if (spec.startsWith('@')) return descriptors[spec.toLowerCase()] ? capital(descriptors[spec.toLowerCase()]) : '';
  const f = spec.split(/\s+/);
  if (f.length !== 5) return '';
  let [min, hour, dom, mon, dow] = f;
  mon = mon.split(',').map((v) => v.replace(/[A-Za-z]{3}/g, (x) => named(x, monthNames, 1))).join(',');
  dow = dow.replace(/[A-Za-z]{3}/g, (x) => named(x, dayNames, 0));
  let time;
  if (isNum(min) && isNum(hour)) time = `at ${two(hour)}:${two(min)}`;
  else if (isNum(min) && hour === '*') time = min === '0' ? 'every hour, on the hour' : `every hour at minute ${min}`;
  else if (min === '*' && hour === '*') time = 'every minute';
  else if (/^\*\/\d+$/.test(min) && hour === '*') time = `every ${min.slice(2)} minutes`;
  else if (/^\*\/\d+$/.test(min)) time = `every ${min.slice(2)} minutes during hours ${list(hour, (x) => x)}`;
  else if (isNum(min) && /^\*\/\d+$/.test(hour)) time = `at minute ${min} of every ${hour.slice(2)} hours`;
  else if (isNum(min)) time = `at minute ${min} past hour ${list(hour, (x) => x)}`;
  else time = `at minute ${list(min, (x) => x)} of hour ${list(hour, (x) => x)}`;
  const parts = [time];
  if (dom !== '*' && dom !== '?') parts.push(`on day ${list(dom, (x) => x)} of the month`);
  if (mon !== '*') parts.push(`in ${list(mon, (x) => months[Number(x) - 1] || x)}`);
  if (dow !== '*' && dow !== '?') {
    parts.push(`${dom !== '*' && dom !== '?' ? 'or' : 'on'} ${list(dow, (x) => days[Number(x) % 7] || x)}`);
  } else if (dom === '*' || dom === '?') {
    if (isNum(min) && isNum(hour)) parts.push('every day');
  }
  return capital(parts.join(' '));
}

function capital(s) { return s.charAt(0).toUpperCase() + s.slice(1); }
