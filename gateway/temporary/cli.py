"""Temporary-goods commands of `customs-gateway`: `tmp-exhibitions` (the registration query),
`tmp-loan-lists` (the loaned-exhibit list query), `tmp-declarations` (load the customs
declarations linked to exhibitions, reference data), `tmp-declaration-goods` (报关单商品查询),
`tmp-samples` (example messages to start from), `tmp-confirmations` (the review confirmation
query), `tmp-attach` (a PDF attached to a saved review confirmation, 随附单证, and sent to
customs), `tmp-attachment` (one downloaded back), `tmp-sim-close` (the simulated customs'
结案), `tmp-deadlines` (the R-TMP-7 job, once) and
`tmp-extensions` (the extension query, 延期查询).

Saving and declaring are `customs-gateway submit FILE` (a TMP101/103/105 message), checking
one without storing it `customs-gateway check FILE` / `validate FILE`: the core's commands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import click


def _day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return (
            date.fromisoformat(value)
            if "-" in value
            else date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        )
    except ValueError:
        raise click.BadParameter(f"{value!r}: YYYYMMDD or YYYY-MM-DD") from None


def _page_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The conditions every query page of the manual shows (besides its customs office)."""
    options = (
        click.option("--status", default=None,
                     help="a status value (saved, approved, …) or its name"),
        click.option("--from", "filled_from", default=None, callback=_day, help="填报日期 from"),
        click.option("--to", "filled_to", default=None, callback=_day, help="填报日期 to"),
        click.option("--page", default=1, show_default=True),
        click.option("--size", default=20, show_default=True),
    )  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


@click.command("tmp-exhibitions")
@click.option("--enterprise", default=None, help="its registrations only (default: all)")
@click.option("--customs", default=None, help="主管海关, 4 digits")
@_page_options
@click.option("--id", "doc_id", default=None, type=int, help="one registration in full")
@click.pass_context
def tmp_exhibitions(
    ctx: click.Context, enterprise: str | None, customs: str | None, status: str | None,
    filled_from: date | None, filled_to: date | None, page: int, size: int, doc_id: int | None,
) -> None:  # fmt: skip
    """Exhibition registrations (展览会备案查询), as JSON: no condition lists them all."""
    from sqlalchemy import select

    from gateway.core import config as config_mod
    from gateway.core.db import Database
    from gateway.core.enterprises import Caller
    from gateway.core.models import Enterprise
    from gateway.errors import GatewayError
    from gateway.temporary import queries

    db = Database(config_mod.load(ctx.obj["config_path"]).database_url)
    try:
        with db.session() as session:
            who = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)
            if enterprise:
                ent = session.scalar(select(Enterprise).where(Enterprise.code == enterprise))
                if ent is None:
                    raise click.ClickException(f"no enterprise {enterprise}")
                who = Caller(enterprise_id=ent.id, enterprise_code=ent.code)
            if doc_id is not None:
                out = queries.detail(session, who, doc_id)
            else:
                cond = queries.Conditions(customs, status, filled_from, filled_to, page, size)
                out = queries.search(session, who, cond)
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@click.command("tmp-samples")
@click.option("--enterprise", default=None, help="enterprise code (default: config's default)")
@click.option("--cop-no", default="EXPO-0001", show_default=True, help="the registration's copNo")
@click.option("--exhibition-no", default="", help="its customs number, for the applications")
@click.argument("folder", type=click.Path(file_okay=False))
@click.pass_context
def tmp_samples(
    ctx: click.Context, enterprise: str | None, cop_no: str, exhibition_no: str, folder: str
) -> None:
    """Write example TMP messages of an enterprise into FOLDER: a saved draft, its declare,
    a change and a deletion application (submit them in that order, the last two once
    customs approved the registration and gave its number), a loaned-exhibit list of that
    exhibition, a review confirmation for it (saved: attach PDFs with tmp-attach, then
    declare it), and declarations.yaml, the declarations linked to it (tmp-declarations)."""
    from pathlib import Path

    import yaml

    from gateway.core import config as config_mod
    from gateway.core.parties import Party
    from gateway.temporary import samples

    ent = config_mod.load(ctx.obj["config_path"]).enterprise(enterprise)
    sender = Party(ent.code, ent.name, ent.dxp_id)
    keep = frozenset(f.name for f in samples.form.FORM) - {"customsCode"}
    files = {
        "1-save-TMP101.xml": samples.registration_message(
            sender, [samples.Registration(cop_no, app_status="1", omit=keep)]
        ),
        "2-declare-TMP101.xml": samples.registration_message(
            sender, [samples.Registration(cop_no)]
        ),
        "3-change-TMP103.xml": samples.change_message(
            sender, [samples.Change(cop_no, exhibition_no=exhibition_no)]
        ),
        "4-deletion-TMP105.xml": samples.deletion_message(
            sender, [samples.Deletion(cop_no, exhibition_no)]
        ),
        "5-loan-list-TMP107.xml": samples.loan_list_message(
            sender, samples.LoanList("LOAN-0001", exhibition_no)
        ),
        # saved first: attachments (tmp-attach) only after it, then declared naming them
        "6-confirmation-save-TMP109.xml": samples.confirmation_message(
            sender, [samples.Confirmation("CONF-0001", exhibition_no, app_status="1")]
        ),
    }
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
        click.echo(str(out / name))
    decls = samples.sample_declarations(exhibition_no or "ZL0000000000000000")
    (out / "declarations.yaml").write_text(yaml.safe_dump(decls, allow_unicode=True), "utf-8")
    click.echo(str(out / "declarations.yaml"))


def _caller(session: Any, enterprise: str | None) -> Any:
    """An enterprise's view (`--enterprise`), or the administrator's (all)."""
    from sqlalchemy import select

    from gateway.core.enterprises import Caller
    from gateway.core.models import Enterprise

    if not enterprise:
        return Caller(enterprise_id=None, enterprise_code=None, is_admin=True)
    ent = session.scalar(select(Enterprise).where(Enterprise.code == enterprise))
    if ent is None:
        raise click.ClickException(f"no enterprise {enterprise}")
    return Caller(enterprise_id=ent.id, enterprise_code=ent.code)


def _with_session(ctx: click.Context, url: str | None, work: Callable[[Any], Any]) -> Any:
    """Run `work(session)` on the gateway's database (or `url`); a GatewayError is a CLI error."""
    from gateway.core import config as config_mod
    from gateway.core.db import Database
    from gateway.errors import GatewayError, InvalidMessage

    db = Database(url or config_mod.load(ctx.obj["config_path"]).database_url)
    try:
        with db.session() as session:
            return work(session)
    except InvalidMessage as exc:
        lines = [f"{v.rule} {v.field}: {v.message} ({v.value})" for v in exc.violations]
        raise click.ClickException("\n".join([str(exc), *lines])) from exc
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()


@click.command("tmp-loan-lists")
@click.option("--enterprise", default=None, help="its lists only (default: all)")
@click.option("--customs", default=None, help="主管海关, 4 digits")
@_page_options
@click.option("--exhibition-no", default=None, help="展览会编号")
@click.option("--id", "doc_id", default=None, type=int, help="one list in full")
@click.pass_context
def tmp_loan_lists(
    ctx: click.Context, enterprise: str | None, customs: str | None, status: str | None,
    filled_from: date | None, filled_to: date | None, exhibition_no: str | None, page: int,
    size: int, doc_id: int | None,
) -> None:  # fmt: skip
    """Loaned-exhibit lists (外借展品清单查询), as JSON: no condition lists them all."""
    from gateway.temporary import loan_queries, queries

    def work(session: Any) -> Any:
        who = _caller(session, enterprise)
        if doc_id is not None:
            return loan_queries.detail(session, who, doc_id)
        cond = queries.Conditions(customs, status, filled_from, filled_to, page, size)
        return loan_queries.search(session, who, cond, exhibition_no)

    out = _with_session(ctx, None, work)
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@click.command("tmp-declarations")
@click.option("--customs", "to_customs", is_flag=True,
              help="load the simulated customs' copy (its database) instead")  # fmt: skip
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def tmp_declarations(ctx: click.Context, to_customs: bool, file: str) -> None:
    """Load the customs declarations linked to exhibitions (reference data) from FILE, YAML
    or JSON (`declarations:` list, see gateway/temporary/declarations.py). A declaration
    loaded again replaces its lines. Nothing is taken when one value is wrong."""
    from pathlib import Path

    import yaml

    from gateway.core import config as config_mod
    from gateway.temporary import declarations, sim
    from gateway.temporary.models import TmpDeclarationGoods

    try:
        data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))  # JSON is YAML too
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file}: not YAML or JSON: {exc}") from exc
    url = config_mod.load(ctx.obj["config_path"]).sim.database_url if to_customs else None
    model = sim.SimDeclarationGoods if to_customs else TmpDeclarationGoods

    def work(session: Any) -> int:
        if to_customs:
            # customs' tables, as the simulator creates them when it starts
            sim.SimDeclarationGoods.metadata.create_all(session.get_bind())
        return declarations.load(session, model, declarations.parse(data))

    count = _with_session(ctx, url, work)
    click.echo(f"{count} declaration goods lines loaded" + (" (customs)" if to_customs else ""))


@click.command("tmp-declaration-goods")
@click.argument("exhibition_no")
@click.option("--entry-id", default=None, help="报关单海关编号: one declaration")
@click.option("--item-no", default=None, type=int, help="商品序号: one line (with --entry-id)")
@click.option("--enterprise", default=None, help="as this enterprise (default: administrator)")
@click.pass_context
def tmp_declaration_goods(
    ctx: click.Context, exhibition_no: str, entry_id: str | None, item_no: int | None,
    enterprise: str | None,
) -> None:  # fmt: skip
    """报关单商品查询: the goods lines of the declarations linked to an approved exhibition,
    of one declaration, or one line, as JSON."""
    from gateway.temporary import loan_queries

    def work(session: Any) -> Any:
        who = _caller(session, enterprise)
        return loan_queries.goods_lookup(session, who, exhibition_no, entry_id, item_no)

    out = _with_session(ctx, None, work)
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@click.command("tmp-confirmations")
@click.option("--enterprise", default=None, help="its confirmations only (default: all)")
@click.option("--customs", default=None, help="主管地海关, 4 digits")
@_page_options
@click.option("--id", "doc_id", default=None, type=int, help="one confirmation in full")
@click.pass_context
def tmp_confirmations(
    ctx: click.Context, enterprise: str | None, customs: str | None, status: str | None,
    filled_from: date | None, filled_to: date | None, page: int, size: int, doc_id: int | None,
) -> None:  # fmt: skip
    """Review confirmations (暂时进出境审核确认查询), as JSON: no condition lists them all."""
    from gateway.temporary import confirmation_queries, queries

    def work(session: Any) -> Any:
        who = _caller(session, enterprise)
        if doc_id is not None:
            return confirmation_queries.detail(session, who, doc_id)
        cond = queries.Conditions(customs, status, filled_from, filled_to, page, size)
        return confirmation_queries.search(session, who, cond)

    click.echo(json.dumps(_with_session(ctx, None, work), ensure_ascii=False, indent=2))


@click.command("tmp-extensions")
@click.option("--enterprise", default=None, help="its extensions only (default: all)")
@click.option("--customs", default=None, help="申请海关, 4 digits")
@_page_options
@click.option("--id", "doc_id", default=None, type=int, help="one extension in full")
@click.pass_context
def tmp_extensions(
    ctx: click.Context, enterprise: str | None, customs: str | None, status: str | None,
    filled_from: date | None, filled_to: date | None, page: int, size: int, doc_id: int | None,
) -> None:  # fmt: skip
    """Extensions (暂时进出境货物延期查询), as JSON: no condition lists them all."""
    from gateway.temporary import extension_queries, queries

    def work(session: Any) -> Any:
        who = _caller(session, enterprise)
        if doc_id is not None:
            return extension_queries.detail(session, who, doc_id)
        cond = queries.Conditions(customs, status, filled_from, filled_to, page, size)
        return extension_queries.search(session, who, cond)

    click.echo(json.dumps(_with_session(ctx, None, work), ensure_ascii=False, indent=2))


@click.command("tmp-sim-close")
@click.option("--agent-code", required=True, help="申报单位代码 of the confirmation")
@click.option("--cop-no", required=True, help="the confirmation's copNo")
@click.option("--date", "close_date", required=True, callback=_day, help="结案日期, YYYYMMDD")
@click.pass_context
def tmp_sim_close(ctx: click.Context, agent_code: str, cop_no: str, close_date: date) -> None:
    """The simulated customs closes (结案) an approved confirmation: its running sender sends
    the TMP110 (code 5, closeDate) to the declarer."""
    from gateway.core import config as config_mod
    from gateway.temporary import sim

    url = config_mod.load(ctx.obj["config_path"]).sim.database_url
    day = f"{close_date:%Y%m%d}"

    def work(session: Any) -> str:
        sim.SimBase.metadata.create_all(session.get_bind())  # as the simulator does at start
        return sim.close(session, f"{agent_code}|{cop_no}", day)

    sent = _with_session(ctx, url, work)
    click.echo(f"结案 {agent_code}|{cop_no} on {day}: TMP110 {sent} scheduled")


@click.command("tmp-attach")
@click.option("--enterprise", required=True, help="the declarer's 10-digit code")
@click.option("--agent-code", default=None, help="申报单位代码 (default: the enterprise)")
@click.option("--cop-no", required=True, help="the confirmation's copNo")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def tmp_attach(
    ctx: click.Context, enterprise: str, agent_code: str | None, cop_no: str, file: str
) -> None:
    """Attach a PDF (随附单证, at most 4 MB) to a saved review confirmation (R-COM-6)."""
    from pathlib import Path

    from gateway.core.models import utcnow
    from gateway.temporary import attachments

    path = Path(file)
    if path.stat().st_size > attachments.MAX_BYTES:  # refused before it is read
        raise click.ClickException(f"R-COM-6 attachment: {attachments.too_large().message}")

    def work(session: Any) -> Any:
        who = _caller(session, enterprise)
        doc_id = attachments.find(session, who, agent_code or enterprise, cop_no)
        return attachments.add(session, who, doc_id, path.name, path.read_bytes(), utcnow())

    view = _with_session(ctx, None, work)  # committed: the intake hook reads the row
    view["delivery"] = _deliver(ctx, view["id"])
    click.echo(json.dumps(view, ensure_ascii=False, indent=2))


def _deliver(ctx: click.Context, attachment_id: int) -> dict[str, Any]:
    """Send a kept attachment to customs (TMP113) through the gateway's intake; a running
    `serve` signs and sends it, as `submit`'s messages."""
    from gateway.core import config as config_mod
    from gateway.core.models import utcnow
    from gateway.core.runtime import Gateway
    from gateway.errors import GatewayError, InvalidMessage
    from gateway.temporary import attachments

    gw = Gateway(config_mod.load(ctx.obj["config_path"]))
    gw.prepare(broker=False)
    try:
        return attachments.deliver(gw, attachment_id, "cli", utcnow())
    except InvalidMessage as exc:
        lines = [f"{v.rule} {v.field}: {v.message} ({v.value})" for v in exc.violations]
        raise click.ClickException("\n".join([str(exc), *lines])) from exc
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        gw.db.dispose()


@click.command("tmp-attachment")
@click.option("--enterprise", required=True, help="the declarer's 10-digit code")
@click.option("--agent-code", default=None, help="申报单位代码 (default: the enterprise)")
@click.option("--cop-no", required=True, help="the confirmation's copNo")
@click.option("--sha256", "digest", required=True, help="the attachment's digest (the query's)")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="PDF file")
@click.pass_context
def tmp_attachment(
    ctx: click.Context, enterprise: str, agent_code: str | None, cop_no: str, digest: str,
    output: str,
) -> None:  # fmt: skip
    """Download an attachment (随附单证) of the enterprise's review confirmation; its path.
    Another enterprise's confirmation answers like a missing one."""
    from pathlib import Path

    from gateway.temporary import attachments

    def work(session: Any) -> bytes:
        who = _caller(session, enterprise)
        doc_id = attachments.find(session, who, agent_code or enterprise, cop_no)
        found = attachments.find_attachment(session, doc_id, digest)
        return attachments.download(session, who, doc_id, found)[1]

    Path(output).write_bytes(_with_session(ctx, None, work))
    click.echo(output)


@click.command("tmp-print")
@click.option("--enterprise", required=True, help="the declarer's 10-digit code")
@click.option("--agent-code", default=None, help="申报单位代码 (default: the enterprise)")
@click.option("--cop-no", required=True, help="the confirmation's copNo")
@click.option("--form", required=True, type=click.Choice(["check_sheet", "list", "application"]),
              help="核对单, 清单 (after approval) or 申请表 (after approval)")  # fmt: skip
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="PDF file")
@click.option("--record", type=click.Choice(["confirmation", "exhibition", "loan_list"]),
              default="confirmation", show_default=True, help="which record's forms")  # fmt: skip
@click.pass_context
def tmp_print(
    ctx: click.Context, enterprise: str, agent_code: str | None, cop_no: str, form: str,
    output: str, record: str,
) -> None:  # fmt: skip
    """Print a saved review confirmation's (or exhibition registration's, or loaned-exhibit
    list's: check_sheet, list) form as a PDF (R-TMP-2); its path."""
    from pathlib import Path

    from gateway.core.models import utcnow
    from gateway.temporary import printing
    from gateway.temporary.loans import LOAN_LIST
    from gateway.temporary.registrations import EXHIBITION

    def work(session: Any) -> bytes:
        who = _caller(session, enterprise)
        if record == "exhibition":
            doc_id = printing.find(session, who, agent_code or enterprise, cop_no, EXHIBITION)
            return printing.render_exhibition(session, who, doc_id, form, utcnow())
        if record == "loan_list":
            doc_id = printing.find(session, who, agent_code or enterprise, cop_no, LOAN_LIST)
            return printing.render_loan_list(session, who, doc_id, form, utcnow())
        doc_id = printing.find(session, who, agent_code or enterprise, cop_no)
        return printing.render(session, who, doc_id, form, utcnow())

    Path(output).write_bytes(_with_session(ctx, None, work))
    click.echo(output)


@click.command("tmp-deadlines")
@click.option("--at", "at_text", default="now", help="run as if at TIME (default now)")
@click.pass_context
def tmp_deadlines(ctx: click.Context, at_text: str) -> None:
    """Run the re-export/re-import deadline job once (R-TMP-7): reminders and overdue marks."""
    from gateway.core import config as config_mod
    from gateway.core.dryrun import parse_at
    from gateway.core.runtime import Gateway
    from gateway.temporary.deadlines import run_deadlines

    gw = Gateway(config_mod.load(ctx.obj["config_path"]))  # its db notifies at commit
    run = run_deadlines(gw.db, parse_at(at_text), gw.notifier)
    click.echo(json.dumps({"reminded": run.reminded, "overdue": run.overdue}))


def _demo() -> click.Command:
    from gateway.temporary.demo import demo_command

    return demo_command


COMMANDS = (
    _demo(),  # tmp-demo: issue 12's story end to end (gateway/temporary/demo.py)
    tmp_exhibitions,
    tmp_loan_lists,
    tmp_declarations,
    tmp_declaration_goods,
    tmp_samples,
    tmp_confirmations,
    tmp_attach,
    tmp_attachment,
    tmp_sim_close,
    tmp_deadlines,
    tmp_extensions,
    tmp_print,
)
