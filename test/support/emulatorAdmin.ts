// Calls an emulator's admin API (`/_emulator/...`), as tests arrange what a CRM user or a bookkeeper would do.

export type Rec = Record<string, unknown>;

/** The admin answer as JSON; a refused call fails the test with its status and answer. */
export async function emulatorAdmin(base: string, method: string, path: string, payload?: unknown): Promise<Rec> {
  const response = await fetch(`${base}/_emulator${path}`, {
    method,
    headers: payload === undefined ? {} : { 'content-type': 'application/json' },
    ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as Rec;
}
