"""Border declarations commands of `customs-gateway`:

- `bdr-records FORM` / `bdr-documents FORM`: the two query pages (申请记录查询, 单据查询) of a
  declarant (`--id-number`, `--role`), with the pages' conditions; `--id` one record in full;
- `bdr-place CODE`: register a supervised place, its operator and biometric method (admin);
- `bdr-catalogue FILE`: load the goods catalogue (商品分类表), JSON or YAML list of
  {goodsCode, name, unit};
- `bdr-expire`: the 认证超时 check once (the job's work);
- `bdr-samples FOLDER`: example BDR101/103/105 messages (for `check`/`validate`);
- `bdr-sim-answer PRE_ENTRY_NO CODE`: the simulated customs' operator sends a step (14 改单,
  12 实货放行, …) for a declaration it holds.

Declaring is the terminal's (a session with a biometric gate, `api`); `check`/`validate FILE`
check a BDR message without storing it: the core's commands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

_ROLES = {"resident": "1", "group": "2", "cooperative": "3"}


def _db(ctx: click.Context, url: str | None = None) -> Any:
    from gateway.core import config as config_mod
    from gateway.core.db import Database

    config = config_mod.load(ctx.obj["config_path"])
    return Database(url or config.database_url)


def _run(ctx: click.Context, work: Callable[[Any], Any], url: str | None = None) -> Any:
    """`work(session)` in one transaction; a GatewayError as a clean message, no traceback."""
    from gateway.errors import GatewayError

    db = _db(ctx, url)
    try:
        with db.session() as session:
            return work(session)
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()


def _time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    from gateway.codes import CHINA_TZ

    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: YYYY-MM-DD[THH:MM:SS] (Beijing time)") from None
    return at if at.tzinfo else at.replace(tzinfo=CHINA_TZ)


def _page_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = (
        click.option("--id-number", required=True, help="the declarant's ID number"),
        click.option(
            "--role",
            type=click.Choice(sorted(_ROLES)),
            default="resident",
            show_default=True,
            help="the identity picked at the terminal",
        ),
        click.option("--district", default=None, help="关区代码"),
        click.option("--decl-no", default=None, help="申报单编号"),
        click.option("--status", default=None, help="a status value or its page name (待认证)"),
        click.option("--mode", "business_mode", default=None, help="业务模式 01/02/03"),
        click.option("--from", "from_time", default=None, callback=_time, help="最近操作时间 from"),
        click.option("--to", "to_time", default=None, callback=_time, help="… to"),
        click.option(
            "--quick",
            type=click.Choice(["today", "week"]),
            default=None,
            help="当天 / 本周 (Beijing time)",
        ),
        click.option("--page", default=1, show_default=True),
        click.option("--size", default=10, show_default=True),
        click.option("--id", "record_id", default=None, type=int, help="one record in full"),
    )
    for option in reversed(options):
        command = option(command)
    return command


def _declarant(id_number: str, role: str) -> Any:
    from gateway.border.identity import Declarant, Role

    return Declarant(
        id_number=id_number,
        name="",
        role=Role(_ROLES[role]),
        district="",
        terminal_id="cli",
        place_code="",
    )


def _page(ctx: click.Context, page: str, form: str, kw: dict[str, Any]) -> None:
    from gateway.border import queries
    from gateway.border.codes import Form

    who = _declarant(kw.pop("id_number"), kw.pop("role"))
    record_id = kw.pop("record_id")

    def work(session: Any) -> Any:
        if record_id is not None:
            return queries.detail(session, who, record_id)
        cond = queries.Conditions(**kw)
        finder = queries.records if page == "records" else queries.documents
        return finder(session, who, Form.ENTRY if form == "entry" else Form.IMPORT, cond)

    click.echo(json.dumps(_run(ctx, work), ensure_ascii=False, indent=2))


@click.command("bdr-records")
@click.argument("form", type=click.Choice(["entry", "import"]))
@_page_options
@click.option("--pre-entry-no", default=None, help="预录入编号")
@click.option("--decl-type", default=None, help="申报类型 00 申请 / 01 变更 / 02 撤销")
@click.pass_context
def bdr_records(ctx: click.Context, form: str, **kw: Any) -> None:
    """申请记录查询: a declarant's applications, changes and revokes, as JSON."""
    _page(ctx, "records", form, kw)


@click.command("bdr-documents")
@click.argument("form", type=click.Choice(["entry", "import"]))
@_page_options
@click.pass_context
def bdr_documents(ctx: click.Context, form: str, **kw: Any) -> None:
    """单据查询: a declarant's declarations customs numbered, as JSON."""
    _page(ctx, "documents", form, kw)


@click.command("bdr-place")
@click.argument("place_code")
@click.option("--name", required=True, help="监管场所名称")
@click.option("--district", required=True, help="关区代码")
@click.option("--operator", required=True, help="the operator's gateway enterprise code")
@click.option(
    "--method",
    type=click.Choice(["face", "fingerprint"]),
    required=True,
    help="the biometric check customs configured for the place",
)
@click.pass_context
def bdr_place(
    ctx: click.Context, place_code: str, name: str, district: str, operator: str, method: str
) -> None:
    """Register or update a supervised place (监管场所)."""
    from gateway.border import store
    from gateway.border.identity import BiometricMethod

    _run(
        ctx,
        lambda s: store.save_place(
            s, place_code, name, district, operator, BiometricMethod(method)
        ),
    )
    click.echo(f"place {place_code} {name}: district {district}, operator {operator}, {method}")


@click.command("bdr-catalogue")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def bdr_catalogue(ctx: click.Context, file: str) -> None:
    """Load the goods catalogue (商品分类表) from FILE: a JSON or YAML list of {goodsCode,
    name, unit}; it replaces the one loaded before; nothing is taken when one entry is wrong."""
    import yaml

    from gateway.border import store

    try:
        entries = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    if not isinstance(entries, list):
        raise click.ClickException(f"{file}: a list of {{goodsCode, name, unit}} entries")
    count = _run(ctx, lambda s: store.load_catalogue(s, entries))
    click.echo(f"goods catalogue: {count} entries")


@click.command("bdr-expire")
@click.pass_context
def bdr_expire(ctx: click.Context) -> None:
    """Move 待认证 declarations past their deadline to 认证超时 (the job's round, once)."""
    from gateway.border import declarations
    from gateway.core.models import utcnow

    count = _run(ctx, lambda s: declarations.expire_in(s, utcnow()))
    click.echo(f"{count} declaration(s) timed out (认证超时)")


@click.command("bdr-samples")
@click.option(
    "--enterprise", default=None, help="the place operator sending them (default: the config's)"
)
@click.argument("folder", type=click.Path(file_okay=False))
@click.pass_context
def bdr_samples(ctx: click.Context, enterprise: str | None, folder: str) -> None:
    """Write example BDR101 (entry), BDR103 (import) and BDR105 (revoke) messages into
    FOLDER, as the gateway sends them for a place's operator before signing (check them
    with `validate`, or with `check --at now` against the store's rules)."""
    from gateway.border import samples
    from gateway.core import config as config_mod
    from gateway.core.models import utcnow
    from gateway.core.parties import Party

    ent = config_mod.load(ctx.obj["config_path"]).enterprise(enterprise)
    sender = Party(ent.code, ent.name, ent.dxp_id)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    at = utcnow()
    files = {
        "bdr101_entry.xml": samples.entry_message(at, sender=sender),
        "bdr103_import.xml": samples.import_message(at, sender=sender),
        "bdr105_revoke.xml": samples.revoke_message(at, sender=sender),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
        click.echo(str(out / name))


@click.command("bdr-sim-answer")
@click.argument("pre_entry_no")
@click.argument("code")
@click.option("--info", default="", help="监管审核意见")
@click.pass_context
def bdr_sim_answer(ctx: click.Context, pre_entry_no: str, code: str, info: str) -> None:
    """The simulated customs sends CODE (14 改单, 12 实货放行, 11 单证放行, 10 审核通过, 05
    待检查, 13 转普货报关) for a declaration it holds; its running sender delivers it."""
    from gateway.border import sim
    from gateway.border.codes import BdrReturn
    from gateway.core import config as config_mod
    from gateway.core.customs_sim.state import SimBase

    try:
        step = BdrReturn(code)
    except ValueError:
        raise click.BadParameter(f"{code!r}: one of {[c.value for c in BdrReturn]}") from None
    url = config_mod.load(ctx.obj["config_path"]).sim.database_url

    def work(session: Any) -> str:
        SimBase.metadata.create_all(session.get_bind())  # as the simulator does at start
        return str(sim.answer(session, pre_entry_no, step, info))

    sent = _run(ctx, work, url)
    click.echo(f"{pre_entry_no}: {step.value} scheduled ({sent})")


def _demo() -> click.Command:
    from gateway.border.demo import demo_command

    return demo_command


COMMANDS = (
    bdr_records,
    bdr_documents,
    bdr_place,
    bdr_catalogue,
    bdr_expire,
    bdr_samples,
    bdr_sim_answer,
    _demo(),  # bdr-demo: a resident and a cooperative representative end to end
)
