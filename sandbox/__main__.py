"""Run both emulators in one process: ``python -m sandbox [--ghl-port 8801] [--pleo-port 8802]``.

State lives in ``--state-file`` (default ``.sandbox/state.json``) and survives
restarts; ``make reset`` deletes it. SIGTERM/SIGINT save and exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal

import uvicorn

from sandbox.app import ResetMiddleware, SandboxState, build_ghl_app, build_pleo_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ghl-port", type=int, default=int(os.environ.get("GHL_SANDBOX_PORT", 8801)))
    parser.add_argument("--pleo-port", type=int, default=int(os.environ.get("PLEO_SANDBOX_PORT", 8802)))
    parser.add_argument("--state-file", default=os.environ.get("SANDBOX_STATE_FILE", ".sandbox/state.json"))
    parser.add_argument(
        "--config",
        default=os.environ.get("SANDBOX_CONFIG", ""),
        help="JSON object overriding SandboxState.DEFAULT_CONFIG for a fresh state",
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    config = json.loads(args.config) if args.config else {}
    state = SandboxState(args.state_file, config)
    logging.basicConfig(level=args.log_level.upper())

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # one handler below stops both servers
            yield

    async def serve() -> None:
        servers = [
            Server(
                uvicorn.Config(
                    app, host=args.host, port=port, log_level=args.log_level, access_log=False, lifespan="off"
                )
            )
            for app, port in (
                (ResetMiddleware(build_ghl_app(state)), args.ghl_port),
                (ResetMiddleware(build_pleo_app(state)), args.pleo_port),
            )
        ]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: [setattr(s, "should_exit", True) for s in servers])
        await asyncio.gather(*(s.serve() for s in servers))

    try:
        asyncio.run(serve())
    finally:
        state.close()


if __name__ == "__main__":
    main()
