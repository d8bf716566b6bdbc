"""`apt-print` and `apt-copy`: the manual's 打印 and 复制 (seed 003 §2.3) for operators, over
the gateway's database; the HTTP routes (`api.py`) give enterprises the same, scoped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gateway.core import config as config_mod
from gateway.core import records
from gateway.core.enterprises import Caller
from gateway.core.migrate import upgrade
from gateway.core.models import Enterprise, utcnow
from gateway.core.queries import get_document
from gateway.core.runtime import Gateway
from gateway.errors import GatewayError

ADMIN = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)


@click.command("apt-print")
@click.argument("doc_id", type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="PDF file")
@click.pass_context
def apt_print(ctx: click.Context, doc_id: int, output: str) -> None:
    """Print appointment DOC_ID as a PDF (预约通关申请单, 打印); its path."""
    from gateway.appointments import printing

    def render(gw: Gateway) -> bytes:
        with gw.db.session() as session:
            return printing.render(session, ADMIN, doc_id, utcnow())

    Path(output).write_bytes(_with_gateway(ctx, render))
    click.echo(output)


@click.command("apt-copy")
@click.argument("doc_id", type=int)
@click.option("--cop-no", required=True, help="the new draft's own copNo (企业内部编号)")
@click.pass_context
def apt_copy(ctx: click.Context, doc_id: int, cop_no: str) -> None:
    """Copy appointment DOC_ID into a new saved draft (复制): the new record's id and pre-entry
    number. The draft goes through every rule, as a message would."""
    result = _with_gateway(ctx, lambda gw: _copy(gw, doc_id, cop_no))
    (doc,) = result.documents
    click.echo(f"document {doc.id} {doc.business_key} {doc.status} pre-entry {doc.pre_no}")


def _copy(gw: Gateway, doc_id: int, cop_no: str) -> Any:
    with gw.db.session() as session:
        data = records.copy_message(session, ADMIN, doc_id, {"copNo": cop_no})
        owner = session.get(Enterprise, get_document(session, ADMIN, doc_id).enterprise_id)
        assert owner is not None  # a document's enterprise is a foreign key
        code = owner.code
    return gw.intake.submit(code, data, "cli")


def _with_gateway(ctx: click.Context, work: Callable[[Gateway], Any]) -> Any:
    gw = Gateway(config_mod.load(ctx.obj["config_path"]))
    try:
        upgrade(gw.db)  # a fresh database answers "no appointment", not "no such table"
        return work(gw)
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        gw.db.dispose()


COMMANDS = (apt_print, apt_copy)
