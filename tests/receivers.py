"""Local alert receivers for tests: a minimal SMTP server and a webhook (Slack) receiver, on loopback."""

from __future__ import annotations

import json
import socketserver
import ssl
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _SmtpHandler(socketserver.StreamRequestHandler):
    """One SMTP session for :class:`SmtpReceiver` (``self.server.receiver``)."""

    def send(self, data: bytes) -> None:
        self.connection.sendall(data)

    def start_tls(self) -> bool:
        try:
            self.connection = self.server.receiver.context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.server.receiver.tls_failures += 1
            return False
        self.rfile = self.connection.makefile("rb")
        return True

    def handle(self):
        receiver = self.server.receiver
        self.secure, self.sender, self.rcpts = False, "", []
        if receiver.tls == "implicit":
            if not self.start_tls():
                return
            self.secure = True
        self.send(b"220 localhost test SMTP\r\n")
        while True:
            line = self.rfile.readline()
            if not line or not self.command(line.decode("utf-8", "replace").strip()):
                return

    def command(self, cmd: str) -> bool:
        """Answer one command; False ends the session."""
        receiver, upper = self.server.receiver, cmd.upper()
        if upper.startswith(("EHLO", "HELO")):
            offer = receiver.tls == "starttls" and not self.secure
            self.send(b"250-localhost\r\n250 STARTTLS\r\n" if offer else b"250 localhost\r\n")
        elif upper == "STARTTLS" and receiver.tls == "starttls" and not self.secure:
            self.send(b"220 Ready to start TLS\r\n")
            self.secure = self.start_tls()
            return self.secure
        elif upper.startswith(("MAIL", "RCPT", "DATA")) and receiver.tls and not self.secure:
            self.send(b"530 Must issue a STARTTLS command first\r\n")
        elif upper.startswith("MAIL"):
            self.sender, self.rcpts = cmd.split(":", 1)[1].strip(" <>"), []
            self.send(b"250 OK\r\n")
        elif upper.startswith("RCPT"):
            self.rcpts.append(cmd.split(":", 1)[1].strip(" <>"))
            self.send(b"250 OK\r\n")
        elif upper.startswith(("RSET", "NOOP")):
            self.send(b"250 OK\r\n")
        elif upper == "DATA":
            self.data()
        elif upper == "QUIT":
            self.send(b"221 Bye\r\n")
            return False
        else:
            self.send(b"502 Not implemented\r\n")
        return True

    def data(self) -> None:
        self.send(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        data = b""
        while True:
            chunk = self.rfile.readline()
            if chunk in (b".\r\n", b".\n", b""):
                break
            data += chunk[1:] if chunk.startswith(b"..") else chunk
        receiver = self.server.receiver
        receiver.raw.append(data)
        receiver.messages.append(message_from_bytes(data))
        receiver.envelopes.append((self.sender, self.rcpts))
        self.send(b"250 OK queued\r\n")


class SmtpReceiver:
    """Speaks just enough SMTP (EHLO/HELO, STARTTLS, MAIL, RCPT, DATA, QUIT) to receive messages into
    ``self.messages`` (parsed; ``self.raw`` as received, ``self.envelopes`` the MAIL FROM and RCPT TO of each).

    With ``tls="starttls"`` (and a certificate) it offers STARTTLS in its EHLO answer and refuses mail before it,
    as a submission server on port 587 does; with ``tls="implicit"`` it speaks TLS from the first byte (port 465).
    A client that rejects the certificate ends the handshake: counted in ``self.tls_failures``, nothing received.
    """

    def __init__(self, tls: str | None = None, cert_file: Path | None = None, key_file: Path | None = None) -> None:
        self.messages: list = []
        self.raw: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.tls_failures = 0
        self.tls = tls
        self.context = None
        if tls:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(cert_file, key_file)
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
        self.server.daemon_threads = True
        self.server.receiver = self
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def mail_text(message) -> str:
    """The text of an alert email (its text/plain part)."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
            return text.replace("\r\n", "\n").strip()
    raise AssertionError(f"no text/plain part in a {message.get_content_type()} message")


class WebhookReceiver:
    """Records JSON bodies POSTed to it into ``self.posts``."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Recorder:
    """Another host, as a redirect would point to: records every request that arrives (method, path with query,
    headers, body) into ``self.requests`` and answers 200 with ``answer`` (JSON), so a client that followed the
    redirect would take it for the real answer."""

    def __init__(self, answer: dict | None = None) -> None:
        self.requests: list[dict] = []
        outer, payload = self, json.dumps(answer or {}).encode()

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _record

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
