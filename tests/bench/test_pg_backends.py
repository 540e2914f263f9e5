"""benchmarks.pg_backends credits each PostgreSQL backend to the process whose connection it
serves (found from the connection's port through /proc), and a background process to its
own name."""

from __future__ import annotations

import os
import socket

from benchmarks.pg_backends import _client_ports, _served


def test_a_backend_is_credited_to_the_process_owning_its_connection() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        try:
            port = client.getsockname()[1]
            ports = _client_ports({os.getpid(): "serve"})
            command = f"postgres: bench bench_1 127.0.0.1({port}) idle "

            assert _served(command, ports) == "serve"
            assert _served("postgres: bench bench_1 127.0.0.1(1) idle ", ports) == (
                "another client"
            )
        finally:
            accepted.close()
            client.close()


def test_a_background_process_is_credited_to_its_role() -> None:
    assert _served("postgres: walwriter ", {}) == "walwriter"
    assert _served("postgres: autovacuum launcher ", {}) == "autovacuum"
