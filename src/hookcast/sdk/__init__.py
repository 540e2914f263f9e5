"""HookCast's Python SDK: `Client` / `AsyncClient` (HTTP) and `verify`.

Import them from `hookcast` itself; this package stays empty so that importing one part
(e.g. `hookcast.sdk.verify` in a receiver) never loads the others. `Hub` (in-process
publishing) is not here: it runs HookCast's services on its database (`hookcast/hub.py`).
"""
