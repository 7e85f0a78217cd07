"""Real state servers for the shared-backend tests: a PostgreSQL server and an S3-compatible one (versitygw).

`scripts/backend-servers` installs them (Debian's `postgresql`, versitygw built from Go modules) and says where
they are. Each class here starts its server on a free loopback port in a scratch directory, as a child process it
owns, and `stop()` ends it and removes the directory: a test run leaves nothing running. PostgreSQL refuses to run
as root, so under root it runs as the `postgres` user the Debian package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.pulumi_cli import CLI_CACHE_ENV, REPO

INSTALL_HINT = "run ./scripts/backend-servers (it installs Debian's postgresql and builds versitygw with Go)"
START_TIMEOUT = 60.0


def find_servers() -> dict[str, Path]:
    """name -> path of what `scripts/backend-servers --find` reports (postgres-bin, versitygw); installs nothing."""
    env = {key: value for key, value in os.environ.items() if key not in CLI_CACHE_ENV}
    env.update({key: value for key, value in CLI_CACHE_ENV.items() if value is not None})  # the user's cache
    done = subprocess.run([REPO / "scripts" / "backend-servers", "--find"], capture_output=True, text=True, env=env)
    return {name: Path(path) for name, _, path in
            (line.partition("=") for line in done.stdout.splitlines() if "=" in line)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, what: str) -> None:
    """Until the server accepts a TCP connection on the port (or has exited, or the start timed out)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} in {START_TIMEOUT:.0f}s")
        time.sleep(0.05)


def _stop(process: subprocess.Popen, sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class PostgresServer:
    """A PostgreSQL cluster of its own (initdb in a scratch directory), password login for the role `pulumi`."""

    user = "pulumi"
    database = "state"

    def __init__(self, bin_dir: Path):
        self.password = secrets.token_hex(12)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="hf-endpoints-postgres-"))
        run_as = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if run_as is not None:
            os.chown(self.dir, run_as.pw_uid, run_as.pw_gid)
        as_user = {"user": run_as.pw_uid, "group": run_as.pw_gid} if run_as else {}
        password_file = self.dir / "password"
        password_file.write_text(self.password)
        if run_as is not None:
            os.chown(password_file, run_as.pw_uid, run_as.pw_gid)
        self.log = self.dir / "server.log"
        try:
            subprocess.run([bin_dir / "initdb", "-D", self.dir / "data", "-U", self.user, "--pwfile", password_file,
                            "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--no-sync"],
                           check=True, capture_output=True, text=True, cwd=self.dir, **as_user)
            with self.log.open("w") as log:
                if run_as is not None:
                    os.chown(self.log, run_as.pw_uid, run_as.pw_gid)
                self.process = subprocess.Popen(
                    [bin_dir / "postgres", "-D", self.dir / "data", "-p", str(self.port), "-k", self.dir,
                     "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                    stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True, **as_user)
            _wait_for_port(self.port, self.process, self.log, "postgres")
            self._execute(f"CREATE DATABASE {self.database}", database="postgres")
        except BaseException:
            self.stop()
            raise

    def _connect(self, database: str | None = None):
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:  # the port opens a moment before the server takes logins
            try:
                return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                                       dbname=database or self.database, autocommit=True, connect_timeout=5)
            except psycopg.OperationalError as error:
                if "starting up" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _execute(self, sql: str, database: str | None = None) -> list[tuple]:
        with self._connect(database) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def url(self, table: str) -> str:
        """The backend URL of the README's form, with its own state table (one per test)."""
        return (f"postgres://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"
                f"?sslmode=disable&table={table}")

    def rows(self, table: str) -> list[tuple[str, str]]:
        """(key, data) of every row of the state table: what the backend stored."""
        return [(key, str(data)) for key, data in self._execute(f"SELECT key, data FROM {table} ORDER BY key")]

    def stop(self) -> None:
        process = getattr(self, "process", None)
        if process is not None:
            _stop(process, signal.SIGINT)  # PostgreSQL's fast shutdown
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class S3Server:
    """versitygw serving a scratch folder over S3 on loopback, with one access key; buckets made on request."""

    region = "us-east-1"

    def __init__(self, binary: Path):
        self.access_key = "hf-endpoints-test"
        self.secret_key = secrets.token_hex(16)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="hf-endpoints-s3-"))
        (self.dir / "buckets").mkdir()
        (self.dir / "sidecar").mkdir()  # metadata beside the objects: no need for extended attributes
        self.log = self.dir / "server.log"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.dir),
               "ROOT_ACCESS_KEY": self.access_key, "ROOT_SECRET_KEY": self.secret_key}
        try:
            with self.log.open("w") as log:
                self.process = subprocess.Popen(
                    [binary, "--port", f"127.0.0.1:{self.port}", "--region", self.region, "--quiet",
                     "posix", "--sidecar", self.dir / "sidecar", self.dir / "buckets"],
                    stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.dir, start_new_session=True)
            _wait_for_port(self.port, self.process, self.log, "versitygw")
        except BaseException:
            self.stop()
            raise

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a client needs to reach it: the key pair, and no AWS config or metadata service of this machine."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=Config(s3={"addressing_style": "path"}))

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def url(self, bucket: str, prefix: str = "") -> str:
        """The backend URL of the README's form."""
        path = f"/{prefix}" if prefix else ""
        return f"s3://{bucket}{path}?endpoint={self.endpoint}&use_path_style=true&region={self.region}"

    def keys(self, bucket: str) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def stop(self) -> None:
        process = getattr(self, "process", None)
        if process is not None:
            _stop(process, signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> S3Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
