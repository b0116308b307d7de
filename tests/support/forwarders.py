"""Stand-ins for a remote Docker engine on loopback: a TCP port (optionally TLS, with client
certificates, as dockerd --tlsverify) in front of the local engine's unix socket, that a
test can stop and start again; and the certificates for it, made by the test."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def engine_socket() -> str:
    """The local engine's unix socket path (from DOCKER_HOST, else the default)."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        raise RuntimeError(f"the forwarder needs a unix socket engine, not {host}")
    return host.removeprefix("unix://")


class EngineForwarder:
    """127.0.0.1:<port> → the engine's unix socket, byte for byte; TLS when `tls` is given.
    stop() closes the port and every connection; start() opens the same port again."""

    def __init__(self, tls: ssl.SSLContext | None = None, port: int = 0) -> None:
        self._tls = tls
        self.port = port
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._guard = threading.Lock()
        self.start()

    @property
    def url(self) -> str:
        """tcp://127.0.0.1:<port>."""
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (on the same port as before, once it was chosen)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Close the port and cut every open connection."""
        with self._guard:
            listener, self._listener = self._listener, None
            connections, self._open = self._open, []
        for sock in [s for s in (listener,) if s is not None] + connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            if self._tls is not None:
                client = self._tls.wrap_socket(client, server_side=True)
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(engine_socket())
        except OSError:
            client.close()
            return
        with self._guard:
            self._open += [client, engine]
        threading.Thread(target=_pump, args=(engine, client), daemon=True).start()
        _pump(client, engine)

    def __enter__(self) -> EngineForwarder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class TestCA:
    """A certificate authority made on the spot, signing server and client certificates."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            _builder(subject, subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, name: str, usage: x509.ObjectIdentifier) -> tuple[bytes, bytes]:
        """A certificate for 127.0.0.1 with `usage` (server or client auth): (cert, key) PEM."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            _builder(subject, self.cert.subject, key.public_key())
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    @property
    def pem(self) -> bytes:
        """The CA certificate, PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def server_context(self, folder: Path) -> ssl.SSLContext:
        """A server-side TLS context with a certificate from this CA that, like dockerd
        --tlsverify, also requires a client certificate from this CA."""
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = self.issue("engine", ExtendedKeyUsageOID.SERVER_AUTH)
        (folder / "server-cert.pem").write_bytes(cert)
        (folder / "server-key.pem").write_bytes(key)
        (folder / "ca.pem").write_bytes(self.pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "server-cert.pem", folder / "server-key.pem")
        context.load_verify_locations(folder / "ca.pem")
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def client_folder(self, folder: Path, trusted: TestCA | None = None) -> Path:
        """A DOCKER_CERT_PATH: cert.pem and key.pem from this CA, and ca.pem of `trusted`
        (default: this CA)."""
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = self.issue("opsloop", ExtendedKeyUsageOID.CLIENT_AUTH)
        (folder / "cert.pem").write_bytes(cert)
        (folder / "key.pem").write_bytes(key)
        (folder / "ca.pem").write_bytes((trusted or self).pem)
        return folder


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
