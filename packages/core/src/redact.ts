const SECRET_PARAM = /pass|secret|token|key|credential|sasl|auth|sig/i;

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
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, '***');
  }
  return parsed.toString();
}

/**
 * Secrets of a URL (decoded password, a user name without a password — a token — and
 * secret-looking query values), to scrub from texts.
 */
export function urlSecrets(url: URL): string[] {
  const secrets: string[] = [];
  if (url.password) secrets.push(url.password, decodeURIComponent(url.password));
  else if (url.username) secrets.push(url.username, decodeURIComponent(url.username));
  for (const [name, value] of url.searchParams) if (SECRET_PARAM.test(name) && value) secrets.push(value);
  return [...new Set(secrets.filter((s) => s.length >= 3))];
}

/** Replace every occurrence of each secret in `text` by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
