const SECRET_PARAM = /pass|secret|token|key|credential|sasl|auth|sig/i;
/** Options that name a file (`keyFile`, `nkeySeedFile`, `tlsKey`): the path is no secret, its content is never printed. */
const FILE_PARAM = /file$|^tls(key|cert|ca)$/i;

function secretParam(name: string): boolean {
  return SECRET_PARAM.test(name) && !FILE_PARAM.test(name);
}

/**
 * A URL safe to print: password replaced by `***`, a user name without a password replaced too
 * (that is a token: `nats://TOKEN@host`), and the values of query parameters whose name suggests a
 * secret (password, secret, token, key, credential, sasl, auth, sig).
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return '<unparseable url>';
  }
  if (parsed.password) parsed.password = '***';
  else if (parsed.username) parsed.username = '***';
  // no user info, yet an '@' further on: a password holding an unencoded '/', '?' or '#' made the
  // parser end the authority inside it (`kafka://u:12/pw@host` is host u, port 12, path /pw@host);
  // as `%40` too, once an adapter rebuilt the query (`amqp://u:12?pw=s3cret%40host` from
  // `amqp://u:12?pw=s3cret@host`)
  else if (/@|%40/i.test(parsed.pathname + parsed.search + parsed.hash))
    return `${parsed.protocol}//${parsed.host}/***`;
  for (const name of [...parsed.searchParams.keys()]) {
    if (secretParam(name)) parsed.searchParams.set(name, '***');
  }
  return parsed.toString();
}

/**
 * Secrets of a URL (decoded password, a user name without a password — a token — and
 * secret-looking query values), to scrub from texts.
 */
export function urlSecrets(url: URL): string[] {
  const secrets: string[] = [];
  if (url.password) secrets.push(url.password, decoded(url.password));
  else if (url.username) secrets.push(url.username, decoded(url.username));
  for (const [name, value] of url.searchParams) if (secretParam(name) && value) secrets.push(value);
  return [...new Set(secrets.filter((s) => s.length >= 3))];
}

/** Replace every occurrence of each secret in `text` by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
