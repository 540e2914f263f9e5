"""HookCast's Python SDK: `Client` / `AsyncClient` (HTTP), `Hub` (in-process), `verify`.

Import them from `hookcast` itself; this package stays empty so that importing one part
(e.g. `hookcast.sdk.verify` in a receiver) never loads the others.
"""
