"""The ``wenshu`` command: init, users and orgs, reindex, verify, serve, template check.

Whoever runs it is the server's operator (``cli`` in the trail), outside the three web
administrators: it grants the administrator roles, resets an administrator's password and
makes API tokens — all of it on record in the administrators' trail.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import func, select

from archive.errors import WenshuError
from archive.migrate import upgrade
from archive.models import Document, Org
from service import policy
from service.doctypes import DOCTYPES
from service.ops.server import run_converter, serve
from service.settings import load_settings
from service.wiring import Wenshu
from service.workers.ocr import Recogniser
from service.workflows import accounts, signed_copy
from service.workflows.backup import backup, restore
from service.workflows.files import template_preview
from service.workflows.integrity.cycle import SliceReport, cycle_status, run_slice
from service.workflows.integrity.fixity import checkpoint_now, run_fixity, verify_archive
from service.workflows.integrity.since import verify_since_checkpoint


def _ws() -> Wenshu:
    """The one ``Wenshu`` of this command, built from the service's settings on first use."""
    root = click.get_current_context().find_root()
    if not isinstance(root.obj, Wenshu):
        root.obj = Wenshu(load_settings())
        root.call_on_close(root.obj.close)
    return root.obj


def _fail(exc: WenshuError) -> None:
    click.echo(f"错误：{exc.message}", err=True)
    for path, msg in exc.errors.items():
        click.echo(f"  {path}: {msg}", err=True)
    sys.exit(2)


def initialise(ws: Wenshu) -> list[str]:
    """Data dirs, migrations, the demo org, the split of the single ``admin`` of before.
    Idempotent; returns what it did."""
    done = []
    paths = ws.settings.paths
    for folder in (paths.data, paths.archive, paths.index, paths.run, paths.keys):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for folder in (paths.data, paths.keys):
        # The service's user only: a data dir made before the umask (0755) is closed too.
        if folder.stat().st_uid == os.geteuid() and folder.stat().st_mode & 0o077:
            folder.chmod(0o700)
    upgrade(ws.settings.database_url)
    with ws.db.read() as s:
        exists = s.scalar(select(Org).where(Org.code == accounts.DEMO_ORG["code"])) is not None
    if not exists:
        accounts.add_org(ws, **accounts.DEMO_ORG, is_test=True)
        done.append(
            f"created demo org {accounts.DEMO_ORG['code']} ({accounts.DEMO_ORG['name']}) with a TEST signing certificate"
        )
    for name in accounts.split_legacy_admins(ws):
        done.append(
            f"user {name} had the single role admin: now sysadmin (users, orgs, settings); "
            "make the other two administrators apart: "
            "wenshu user-add NAME --role secadmin|auditadmin --org CODE --password -"
        )
    return done


@click.command("init")
def init_cmd() -> None:
    """Create the data dir, migrate the database, seed the demo org (idempotent)."""
    ws = _ws()
    for line in initialise(ws):
        click.echo(line)
    click.echo(f"data dir: {ws.settings.paths.data}")
    click.echo(f"database: {ws.db.engine.url.render_as_string(hide_password=True)}")


def _password_arg(value: str | None) -> str | None:
    """``--password -`` reads the password from the first line of stdin (keeps it out of ps)."""
    if value == "-":
        return sys.stdin.readline().rstrip("\r\n")
    return value


@click.command("user-add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(policy.ROLES))
@click.option("--org", "org_code", required=True)
@click.option("--password", default=None, help="网页登录密码（- 表示从标准输入读取一行）")
@click.option("--full-name", default="", help="姓名，如 张三（上行文的签发人印此姓名）")
def user_add_cmd(name: str, role: str, org_code: str, password: str | None, full_name: str) -> None:
    """Add a user; prints its API token and its expiry, the token as the last line (shown once)."""
    ws = _ws()
    try:
        token = accounts.add_user(
            ws,
            name=name,
            role=role,
            org_code=org_code,
            actor="cli",
            password=_password_arg(password),
            full_name=full_name,
        )
    except WenshuError as exc:
        _fail(exc)
    web = " with a web password" if password is not None else ""
    expires = accounts.token_expiry(ws, ws.now())
    click.echo(f"user {name} ({role}) of {org_code} created{web}; {_expiry(expires)}; API token:")
    click.echo(token)


def _expiry(expires: datetime | None) -> str:
    return f"token expires {expires:%Y-%m-%d %H:%M} UTC" if expires else "token never expires"


@click.command("user-token")
@click.argument("name")
def user_token_cmd(name: str) -> None:
    """Make a new API token for NAME (the old one stops working); prints it as the last line."""
    try:
        token, expires = accounts.rotate_token(_ws(), name=name, actor="cli")
    except WenshuError as exc:
        _fail(exc)
    click.echo(f"new API token of {name}; {_expiry(expires)}:")
    click.echo(token)


@click.command("user-disable")
@click.argument("name")
def user_disable_cmd(name: str) -> None:
    """Disable NAME (exactly as stored): its token is revoked and its sessions end."""
    try:
        changed = accounts.set_active(_ws(), name=name, active=False, actor="cli")
    except WenshuError as exc:
        _fail(exc)
    click.echo(f"user {name!r} disabled" if changed else f"user {name!r} was already disabled")


@click.command("user-enable")
@click.argument("name")
def user_enable_cmd(name: str) -> None:
    """Enable NAME again; its old token stays revoked (wenshu user-token makes a new one)."""
    try:
        changed = accounts.set_active(_ws(), name=name, active=True, actor="cli")
    except WenshuError as exc:
        _fail(exc)
    click.echo(f"user {name!r} enabled" if changed else f"user {name!r} was already enabled")


@click.command("user-password")
@click.argument("name")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="新密码（- 表示从标准输入读取一行）",
)
def user_password_cmd(name: str, password: str) -> None:
    """Set or reset a user's web password (ends the user's sessions)."""
    try:
        accounts.set_password(_ws(), name=name, password=_password_arg(password) or "", actor="cli")
    except WenshuError as exc:
        _fail(exc)
    click.echo(f"password of {name} set")


@click.command("user-set")
@click.argument("name")
@click.option("--full-name", required=True, help="姓名，如 张三（上行文的签发人印此姓名）")
def user_set_cmd(name: str, full_name: str) -> None:
    """Record or correct a user's full name (姓名)."""
    try:
        accounts.set_full_name(_ws(), name=name, full_name=full_name, actor="cli")
    except WenshuError as exc:
        _fail(exc)
    click.echo(f"full name of {name} set to {full_name}")


@click.command("org-add")
@click.argument("code")
@click.option("--name", required=True, help="机关全称，如 吕梁市医疗保障局")
@click.option("--zihao", required=True, help="机关代字，如 吕医保发")
@click.option("--mark", default=None, help="发文机关标志 (default: {name}文件)")
@click.option("--fonds-no", default=None, help="全宗号")
@click.option("--unit-code", default="BGS", help="档号中的机构代码")
@click.option("--seal-text", default=None, help="印章文字 (default: name)")
@click.option("--region", default="", help="地区，如 吕梁市")
@click.option("--test", "is_test", is_flag=True, help="测试机构：可上传不通向信任根的证书")
def org_add_cmd(
    code: str,
    name: str,
    zihao: str,
    mark: str | None,
    fonds_no: str | None,
    unit_code: str,
    seal_text: str | None,
    region: str,
    is_test: bool,
) -> None:
    """Add an org, with a dev (test) signing certificate."""
    try:
        accounts.add_org(
            _ws(),
            code=code,
            name=name,
            zihao=zihao,
            mark=mark,
            fonds_no=fonds_no,
            unit_code=unit_code,
            seal_text=seal_text,
            region=region,
            is_test=is_test,
            actor="cli",
        )
    except WenshuError as exc:
        _fail(exc)
    click.echo(f"org {code} ({name}, {zihao}) created with a TEST signing certificate")


@click.command("reindex")
def reindex_cmd() -> None:
    """Rebuild the search index from the archive."""
    ws = _ws()
    with ws.db.read() as s:
        total = int(s.scalar(select(func.count()).select_from(Document)) or 0)
    with click.progressbar(length=total, label="重建检索索引") as bar:
        last = [0]

        def progress(n: int) -> None:
            bar.update(n - last[0])
            last[0] = n

        n = ws.indexer.rebuild(progress)
    click.echo(f"indexed {n} documents")


@click.command("verify")
@click.option(
    "--since-checkpoint",
    "since",
    is_flag=True,
    help="only what was added after the last verified signed checkpoint (cost follows what was "
    "added, not the size of the archive)",
)
def verify_cmd(since: bool) -> None:
    """Check the audit chain, every blob's hash and every signature; exit 1 on any failure."""
    ws = _ws()
    started = time.perf_counter()
    if since:
        try:
            report = verify_since_checkpoint(ws, actor="cli")  # recorded like a full check
        except WenshuError as exc:
            click.echo(f"错误：{exc.message}", err=True)
            sys.exit(2)
        for line in report.lines:
            click.echo(line)
        click.echo(_took(ws, started))
        if report.failures:
            click.echo(f"验证未通过：{len(report.failures)} 个问题", err=True)
            for f in report.failures:
                click.echo(f"  - {f}", err=True)
            sys.exit(1)
        click.echo("通过：检查点之后的审计链、文件哈希与签名均已验证")
        return
    report = run_fixity(ws, actor="cli")  # the outcome is recorded in the audit trail
    for line in report.lines:
        click.echo(line)
    click.echo(_took(ws, started))
    if report.failures:
        click.echo(f"FAILED: {len(report.failures)} problem(s)", err=True)
        for f in report.failures:
            click.echo(f"  - {f}", err=True)
        sys.exit(1)
    click.echo("OK: audit chain, blobs and signatures verified")


def _took(ws: Wenshu, started: float) -> str:
    workers = ws.settings.integrity.verify_workers
    return f"用时 {time.perf_counter() - started:.2f} 秒（WENSHU_VERIFY_WORKERS={workers}）"


@click.command("fixity")
@click.option(
    "--status", "status", is_flag=True, help="show the cycle, the cursor and the last runs"
)
def fixity_cmd(status: bool) -> None:
    """Run the next slice of the fixity cycle now (what the timer of `wenshu serve` does), or
    show where the cycle stands; exit 1 when the slice found a problem."""
    ws = _ws()
    if status:
        _show_cycle(ws)
        return

    def progress(report: SliceReport, position: int) -> None:
        click.echo(
            f"  已核对 {report.documents} 份文书，进度：第 {position} 号事件"
            f"（本段 第 {report.after_seq + 1}–{report.through_seq} 号）"
        )

    started = time.perf_counter()
    report = run_slice(ws, actor="cli", progress=progress)
    if report.busy_until is not None:
        until = ws.local_time(report.busy_until).strftime("%H:%M:%S")
        click.echo(f"另一个完整性检查正在进行（租约至 {until}），本次未检查", err=True)
        sys.exit(2)
    verb = "续查中断的一段" if report.resumed else "检查一段"
    click.echo(
        f"第 {report.cycle} 轮：{verb}，第 {report.after_seq + 1}–{report.through_seq} 号事件，"
        f"文书 {report.documents} 份，{len({p.document_id for p in report.problems if p.document_id})}"
        " 份有问题"
    )
    click.echo(_took(ws, started))
    if report.cycle_complete:
        click.echo(
            f"第 {report.cycle} 轮已完成：全部文书均已核对一遍，下次开始第 {report.cycle + 1} 轮"
        )
    if report.failures:
        click.echo(f"发现 {len(report.failures)} 个问题", err=True)
        for f in report.failures:
            click.echo(f"  - {f}", err=True)
        sys.exit(1)


def _show_cycle(ws: Wenshu) -> None:
    st = cycle_status(ws)

    def when(at: datetime | None) -> str:
        return ws.local_time(at).strftime("%Y-%m-%d %H:%M") if at else "—"

    click.echo(
        f"周期：第 {st.cycle} 轮，{st.cycle_days:g} 天一轮，开始于 {when(st.started_at)}，"
        f"应完成于 {when(st.ends_at)}"
    )
    click.echo(f"游标：第 {st.position_seq} 号事件（链头第 {st.head_seq} 号）")
    if st.slice_through_seq > st.position_seq:
        click.echo(f"未完成的一段：至第 {st.slice_through_seq} 号事件，下次从游标处继续")
    click.echo(
        f"文书：本轮已核对 {st.documents_checked} 份，尚余 {st.documents_left} 份，"
        f"档案共 {st.documents_total} 份；本轮发现问题的文书 {st.problems} 份"
    )
    if st.running_until is not None:
        click.echo(f"正在运行：租约至 {when(st.running_until)}")
    click.echo("最近的检查：" if st.runs else "最近的检查：尚无")
    for run in st.runs:
        tail = "，本轮完成" if run.cycle_complete else ""
        click.echo(
            f"  {when(run.at)}  第 {run.cycle} 轮  第 {run.after_seq + 1}–{run.through_seq} 号事件"
            f"  文书 {run.documents} 份  有问题 {run.failed_documents} 份{tail}"
        )
        for problem in run.problems[:5]:
            click.echo(f"    - {problem}")


@click.command("ocr")
@click.option(
    "--again",
    "again",
    metavar="DOCUMENT_ID",
    multiple=True,
    help="recognise this document's latest scan again first (no new upload); repeatable",
)
def ocr_cmd(again: tuple[str, ...]) -> None:
    """Recognise the queued scans of signed originals now (`wenshu serve` does it in the
    background); waits for a running recogniser to finish first."""
    ws = _ws()
    for doc_id in again:
        try:
            run = signed_copy.queue_again(ws, doc_id, actor="cli")
        except WenshuError as exc:
            click.echo(f"{doc_id}: {exc}", err=True)
            sys.exit(1)
        click.echo(f"{doc_id}: queued recognition run {run}")
    n = Recogniser(ws).drain(timeout=3600)
    click.echo(f"recognised {n} scan(s)")


@click.command("checkpoint")
@click.option("--org", "org_code", default=None, help="one org (default: every org)")
def checkpoint_cmd(org_code: str | None) -> None:
    """Sign the audit chain head now with each org's key."""
    made = checkpoint_now(_ws(), actor="cli", reason="cli", orgs={org_code} if org_code else None)
    for cp in made:
        click.echo(f"checkpoint {cp['org']}@{cp['seq']} {cp['head_hash']}")
    if not made:
        click.echo("nothing to sign (empty chain or no org keys)")


@click.command("serve")
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
@click.option("--workers", default=None, type=int)
def serve_cmd(host: str | None, port: int | None, workers: int | None) -> None:
    """Start the converter pool and gunicorn; stop both cleanly on SIGTERM/SIGINT."""
    sys.exit(serve(_ws(), host=host, port=port, workers=workers))


@click.command("converter")
def converter_cmd() -> None:
    """Run the LibreOffice pool alone (WENSHU_CONVERTER_SEPARATE=1 for `wenshu serve`)."""
    sys.exit(run_converter(load_settings()))


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--keys",
    "keys_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="where to put the signing keys (default: DIRECTORY/keys)",
)
def backup_cmd(directory: Path, keys_dir: Path | None) -> None:
    """Copy the database (a consistent snapshot), the archive and, apart, the keys; safe while serving."""
    try:
        summary = backup(_ws(), directory, keys_dir)
    except WenshuError as exc:
        _fail(exc)
    click.echo(
        f"backup in {summary.directory}: database {summary.database}, {summary.blobs} blobs; keys in {summary.keys}"
    )


@click.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--keys",
    "keys_dir",
    default=None,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
def restore_cmd(directory: Path, keys_dir: Path | None) -> None:
    """Restore a backup into a fresh data dir, then migrate, verify and rebuild the index."""
    ws = _ws()
    try:
        n = restore(ws, directory, keys_dir)
    except WenshuError as exc:
        _fail(exc)
    initialise(ws)
    report = verify_archive(ws)
    ws.indexer.rebuild()
    click.echo(f"restored {n} blobs into {ws.settings.paths.data}; search index rebuilt")
    if report.failures:
        for f in report.failures:
            click.echo(f"  - {f}", err=True)
        sys.exit(1)
    click.echo("verify: OK")


@click.group("template")
def template_cmd() -> None:
    """文书模板：检查、预览（上传和启用在网页“机构设置”或 API，见 docs/templates.md）。"""


def _doctype_choice() -> click.Choice:
    return click.Choice(sorted(DOCTYPES))


@template_cmd.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "doctype", required=True, type=_doctype_choice(), help="文书类型代码")
def template_check_cmd(file: Path, doctype: str) -> None:
    """检查 FILE 能否作为该类文书的模板：占位符、样式、字体、GB/T 9704 页面。合格退出码 0，否则 1。"""
    problems = DOCTYPES[doctype].template.problems_of(file.read_bytes())
    label = DOCTYPES[doctype].label
    if problems:
        click.echo(f"{file}：不能作为{label}模板，{len(problems)} 处问题：")
        for problem in problems:
            click.echo(f"  - {problem}")
        sys.exit(1)
    click.echo(f"{file}：可以作为{label}模板。")


@template_cmd.command("preview")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "doctype", required=True, type=_doctype_choice(), help="文书类型代码")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--org", "org_code", default="llyb", show_default=True, help="机构代码")
def template_preview_cmd(file: Path, doctype: str, output: Path, org_code: str) -> None:
    """以 FILE 为模板生成该类文书的示例（带草稿水印）PDF，写入 OUTPUT；不保存、不启用。"""
    data = file.read_bytes()
    problems = DOCTYPES[doctype].template.problems_of(data)
    if problems:
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    try:
        pdf = template_preview.preview_docx(_ws(), org_code, DOCTYPES[doctype], data)
    except WenshuError as exc:
        _fail(exc)
    output.write_bytes(pdf)
    click.echo(f"示例已写入 {output}")


COMMANDS = (
    init_cmd,
    backup_cmd,
    restore_cmd,
    user_add_cmd,
    user_set_cmd,
    user_token_cmd,
    user_password_cmd,
    user_disable_cmd,
    user_enable_cmd,
    org_add_cmd,
    reindex_cmd,
    verify_cmd,
    fixity_cmd,
    checkpoint_cmd,
    ocr_cmd,
    serve_cmd,
    converter_cmd,
    template_cmd,
)


@click.group(commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
def wenshu() -> None:
    """Wenshu 文书: the same settings as the service (WENSHU_DATA, DATABASE_URL)."""


def main() -> None:
    # Everything the service writes — database, blobs, keys, index, logs, LibreOffice's
    # scratch — is its user's alone; what must be shared says so with an explicit mode.
    os.umask(0o077)
    wenshu(prog_name="wenshu")
