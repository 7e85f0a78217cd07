"""`python -m providers.unlock`: whose the locks are, when a run counts as over, the backend URLs as the CLI reads
them, and no credential in any message. The lock's own runs (a live `up`, a killed one) on PostgreSQL and S3 are
in tests/test_cli_backends.py; here a lock from another host, which only a hand-written lock can stand for."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from providers import unlock
from providers.lock_owner import live_process
from providers.state_locks import (
    Lock,
    LockReadError,
    file_root,
    key_prefix,
    parse_lock,
    postgres_settings,
    read_locks,
    redact,
    s3_settings,
)

NOW = datetime(2026, 12, 4, 20, 0, 0, tzinfo=UTC)
HOST = "laptop-7"
BOOT = 1_700_000_000  # btime of the fake /proc
TICKS = os.sysconf("SC_CLK_TCK")


@pytest.fixture
def proc(tmp_path) -> Path:
    """A /proc of three processes: 100 started an hour before NOW, 200 a minute after it, 300 a zombie."""
    root = tmp_path / "proc"
    root.mkdir()
    (root / "stat").write_text(f"cpu  1 2 3\nbtime {BOOT}\n")
    since_boot = (NOW - datetime.fromtimestamp(BOOT, UTC)).total_seconds()
    for pid, offset, state in ((100, -3600, "S"), (200, 60, "S"), (300, -3600, "Z")):
        (root / str(pid)).mkdir()
        ticks = int((since_boot + offset) * TICKS)
        fields = [state, *["0"] * 18, str(ticks), "0"]
        (root / str(pid) / "stat").write_text(f"{pid} (pulumi) {' '.join(fields)}\n")
        (root / str(pid) / "cmdline").write_bytes(b"pulumi\0up\0--stack\0dev\0")
    return root


def lock(pid: int = 100, hostname: str = HOST, age: timedelta = timedelta(minutes=3)) -> Lock:
    return Lock(key=f".pulumi/locks/organization/hf-endpoints/dev/{uuid.UUID(int=pid)}.json", pid=pid,
                username="ana", hostname=hostname, timestamp=NOW - age)


MIN_AGE = timedelta(minutes=65)


@pytest.mark.parametrize(("the_lock", "over", "why"), [
    (lock(100), False, "still running on this host: pulumi up --stack dev"),
    (lock(200), True, "over: pid 200 is now another process, started after the lock"),
    (lock(300), True, "over: pid 300 has ended on this host"),
    (lock(400), True, "over: pid 400 has ended on this host"),
    (lock(100, "ci-runner-7"), False, "on another host, 3 min old (younger than 65 min): its run may still be going"),
    (lock(100, "ci-runner-7", timedelta(minutes=65)), True,
     "on another host, 65 min old (older than 65 min): taken for over"),
    (lock(100, "ci-runner-7", timedelta(hours=26)), True,
     "on another host, 26 h 0 min old (older than 65 min): taken for over"),
], ids=["this-host-running", "this-host-pid-reused", "this-host-zombie", "this-host-gone", "other-host-young",
        "other-host-at-min-age", "other-host-old"])
def test_judge(proc, the_lock, over, why):
    """On the lock's host its process decides; elsewhere its age (a run of another host cannot be seen)."""
    verdict = unlock.judge(the_lock, NOW, MIN_AGE, HOST, proc)
    assert (verdict.over, verdict.why) == (over, why)
    assert verdict.running_pid == (None if over or the_lock.hostname != HOST else the_lock.pid)


def test_this_process_is_seen_alive_with_its_start_time():
    """The real /proc: this test's own process started before now, and its command line is read."""
    process = live_process(os.getpid())
    assert process is not None and process.started is not None
    assert process.started <= datetime.now(UTC) and "pytest" in process.command


def test_refusal_of_a_live_run_of_this_host(proc):
    verdicts = [unlock.judge(lock(100), NOW, MIN_AGE, HOST, proc)]
    assert unlock.refusal(verdicts, MIN_AGE, "the stack's timeouts") == (
        "Not unlocked: the run holding the lock is still going (pid 100 on this host). `pulumi cancel` would not stop "
        "it: it only deletes the lock, and the next run would then undo what that run deploys. Let it finish, or stop "
        "it first (kill 100), then run this again.")


def test_refusal_of_a_young_lock_of_another_host(proc):
    verdicts = [unlock.judge(lock(4242, "ci-runner-7"), NOW, MIN_AGE, HOST, proc)]
    assert unlock.refusal(verdicts, MIN_AGE, "the stack's timeouts") == (
        "Not unlocked: the run of ana@ci-runner-7 (pid 4242) may still be going, and nothing on this host can tell. "
        "Ask them, or look at that CI job; once someone has made sure the run is over, run this again with --force. "
        "Locks from another host count as over after 65 min (the stack's timeouts; --min-age-minutes changes it).")


@pytest.mark.parametrize(("stack_config", "expected"), [
    ({}, timedelta(minutes=65)),
    ({"hf-endpoints:readyTimeoutSeconds": 7200}, timedelta(hours=2, minutes=35)),
    ({"hf-endpoints:readyTimeoutSeconds": "600", "hf-endpoints:deleteTimeoutSeconds": 60}, timedelta(minutes=41)),
], ids=["defaults", "long-readiness", "as-strings"])
def test_min_age_is_the_longest_a_run_holds_the_lock(tmp_path, stack_config, expected):
    """The stack's readiness and delete timeouts (Pulumi.yaml's defaults unless the stack sets them) + 30 min."""
    (tmp_path / "Pulumi.yaml").write_text((Path(unlock.REPO) / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text(json.dumps({"config": stack_config}))
    assert unlock.stack_min_age(tmp_path, "dev")[0] == expected


def test_min_age_names_a_bad_timeout(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: hf-endpoints\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  hf-endpoints:readyTimeoutSeconds: soon\n")
    with pytest.raises(unlock.UnlockError, match=r"^hf-endpoints:readyTimeoutSeconds in Pulumi.dev.yaml is 'soon', "
                                                 r"not a number of seconds$"):
        unlock.stack_min_age(tmp_path, "dev")


def test_outside_a_project_it_says_where_to_run(tmp_path, capsys):
    assert unlock.main(["--stack", "dev", "--cwd", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"python -m providers.unlock: no Pulumi project here ({tmp_path}/"
                                              "Pulumi.yaml: ")


# --- the backend URLs, as the CLI reads them ---------------------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("s3://state?endpoint=http://127.0.0.1:7070&use_path_style=true&region=us-east-1",
     {"bucket": "state", "endpoint_url": "http://127.0.0.1:7070", "region_name": "us-east-1", "profile_name": None,
      "addressing_style": "path"}),
    ("s3://state/team?endpoint=minio.lan:9000&disableSSL=true&s3ForcePathStyle=true",
     {"bucket": "state", "endpoint_url": "http://minio.lan:9000", "region_name": None, "profile_name": None,
      "addressing_style": "path"}),
    ("s3://state?endpoint=s3.example.com&region=eu-west-1",
     {"bucket": "state", "endpoint_url": "https://s3.example.com", "region_name": "eu-west-1", "profile_name": None,
      "addressing_style": None}),
    ("s3://state?region=us-east-1&awssdk=v2&profile=deploy",
     {"bucket": "state", "endpoint_url": None, "region_name": "us-east-1", "profile_name": "deploy",
      "addressing_style": None}),
], ids=["native", "legacy-v1-parameters", "endpoint-without-scheme", "aws-profile"])
def test_s3_settings(url, expected):
    assert s3_settings(url) == expected


@pytest.mark.parametrize(("url", "expected"), [
    ("postgres://pulumi:pw@db:5432/state?sslmode=disable&table=team_state",
     ("postgres://pulumi:pw@db:5432/state?sslmode=disable", "team_state")),
    ("postgres://db/state", ("postgres://db/state", "pulumi_state")),
    ("postgres://", ("postgres://", "pulumi_state")),
    ("postgres://db/state?table=pulumi.state", ("postgres://db/state", "pulumi.state")),
], ids=["table-taken-out", "default-table", "pg-variables", "schema-qualified"])
def test_postgres_settings(url, expected):
    assert postgres_settings(url) == expected


def test_a_table_name_that_is_no_name_is_refused():
    with pytest.raises(LockReadError, match=r"^table='x; DROP TABLE y' in the backend URL is not a table name$"):
        postgres_settings("postgres://db/state?table=x;%20DROP%20TABLE%20y")


@pytest.mark.parametrize(("url", "prefix"), [
    ("s3://bucket?region=us-east-1", ""), ("s3://bucket/team/dev?region=x", "team/dev/"),
    ("postgres://u:p@db:5432/state?sslmode=disable", "state/"), ("postgres://", ""),
], ids=["s3-root", "s3-prefix", "postgres-database", "postgres-pg-variables"])
def test_the_url_path_is_the_key_prefix(url, prefix):
    """As the CLI's PrefixedBucket: the path of every URL but file:// prefixes each key (the database name too)."""
    assert key_prefix(url) == prefix


def test_file_root_is_resolved_as_the_cli_does(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert file_root("file://~/state?no_tmp_dir=true") == tmp_path / "state"
    assert file_root(f"file://{tmp_path}/x/../y") == tmp_path / "y"


@pytest.mark.parametrize(("text", "url", "expected"), [
    ("cannot open postgres://pulumi:s3cret@db/state", None, "cannot open postgres://****:****@db/state"),
    ("password s3cret refused", "postgres://pulumi:s3cret@db/state", "password **** refused"),
    ("s3://bucket?endpoint=http://127.0.0.1:7070", None, "s3://bucket?endpoint=http://127.0.0.1:7070"),
], ids=["userinfo", "password-alone", "nothing-secret"])
def test_redact(text, url, expected):
    assert redact(text, url) == expected


@pytest.mark.parametrize(("url", "message"), [
    ("https://api.pulumi.com", "the stack's backend is Pulumi Cloud (https://api.pulumi.com), which shows and cancels "
                               "a stack's running update itself (its console, or `pulumi cancel`): this command is "
                               "for self-managed backends"),
    ("gs://bucket/state", "the stack's backend is gs://bucket/state; this command reads the locks of file://, s3://, "
                          "postgres:// backends only"),
], ids=["pulumi-cloud", "gcs"])
def test_backends_it_does_not_read(url, message):
    with pytest.raises(LockReadError) as refused:
        read_locks(url, "hf-endpoints", "dev")
    assert str(refused.value) == message


def test_a_lock_that_is_not_pulumis_is_named():
    with pytest.raises(LockReadError, match=r"^the lock k.json is not a Pulumi lock \(.*\); look at it by hand$"):
        parse_lock("k.json", b'{"pid": "x"}')


def test_a_password_that_libpq_echoes_is_masked():
    """libpq repeats a malformed part of the URL in its error, here the password itself: the message masks it."""
    with pytest.raises(LockReadError) as refused:
        read_locks("postgres://pulumi:S3cret%Passw0rd@127.0.0.1:9/state", "hf-endpoints", "dev")
    assert str(refused.value) == ('could not read the locks from PostgreSQL: invalid percent-encoded token: "****"; '
                                  "check the URL (or PGHOST, PGUSER, PGPASSWORD) and that the server is up")


def test_a_url_that_is_no_url_is_named_masked():
    with pytest.raises(LockReadError) as refused:
        read_locks("postgres://pulumi:S3cretPassw0rd@[::1/state", "hf-endpoints", "dev")
    assert str(refused.value) == ("the backend URL postgres://****:****@[::1/state is not one the CLI reads "
                                  "(Invalid IPv6 URL)")


def test_a_wrong_postgres_password_is_not_shown(postgres_server):
    """A real server refusing the login: the message says what to check, and holds no password."""
    url = postgres_server.url("pulumi_state").replace(postgres_server.password, "Wr0ngPassw0rd")
    with pytest.raises(LockReadError) as refused:
        read_locks(url, "hf-endpoints", "dev")
    message = str(refused.value)
    assert message.startswith("could not read the locks from PostgreSQL: ")
    assert 'password authentication failed for user "pulumi"' in message
    assert message.endswith("; check the URL (or PGHOST, PGUSER, PGPASSWORD) and that the server is up")
    assert "Wr0ngPassw0rd" not in message and postgres_server.password not in message


# --- through the real CLI: a lock from another host --------------------------------------------------------

def write_lock(project, age: timedelta) -> Path:
    """A lock as the pinned CLI writes it (pkg/backend/diy/lock.go), from a CI runner this host cannot see."""
    folder = project.backend / ".pulumi" / "locks" / "organization" / "hf-endpoints" / "local"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}.json"
    stamp = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    path.write_text(json.dumps({"pid": 4242, "username": "ci", "hostname": "ci-runner-7", "timestamp": stamp}))
    return path


@pytest.mark.cli
def test_a_young_lock_of_another_host_needs_force(project):
    """The CLI itself honours the hand-written lock; the command refuses it while young, says whose it is, and
    `--force` (a person has checked the CI job) unlocks it with `pulumi cancel`."""
    assert project.unlock().stdout == "Stack local has no lock: nothing to unlock.\n"
    path = write_lock(project, timedelta(minutes=10))
    assert "created by ci@ci-runner-7 (pid 4242) at " in project.up(check=False).output

    refused = project.unlock(check=False)
    assert refused.code == 1
    lines = refused.stdout.splitlines()
    assert lines[0] == "Stack local is locked by 1 lock(s):"
    assert lines[1].startswith("  ci@ci-runner-7 (pid 4242) since ")
    # the test stack's readyTimeoutSeconds is 120: 2 min + the default 5 min to delete + 30 min
    assert lines[1].endswith(": on another host, 10 min old (younger than 37 min): its run may still be going")
    assert lines[2].startswith("Not unlocked: the run of ci@ci-runner-7 (pid 4242) may still be going")
    assert path.exists()

    forced = project.unlock("--force")
    assert "--force: unlocking all the same, as you have made sure that run is over." in forced.stdout
    assert "The currently running update for 'local' has been canceled!" in forced.stdout
    assert not path.exists()
    project.preview()


@pytest.mark.cli
def test_an_old_lock_of_another_host_is_unlocked(project):
    path = write_lock(project, timedelta(hours=3))
    done = project.unlock()
    assert ": on another host, 3 h 0 min old (older than 37 min): taken for over" in done.stdout
    assert "Running `pulumi cancel --stack local --yes`." in done.stdout
    assert not path.exists()
