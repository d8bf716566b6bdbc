"""`ecx-print`: the manual's 打印 (Alt+P, seed 004 §3) of any export record for operators,
over the gateway's database; `GET /v1/export/records/{id}/print` gives enterprises the same,
scoped to their own records."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.core import config as config_mod
from gateway.core.db import Database
from gateway.core.enterprises import Caller
from gateway.core.migrate import upgrade
from gateway.core.models import utcnow
from gateway.errors import GatewayError

ADMIN = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)


@click.command("ecx-print")
@click.argument("doc_id", type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="PDF file")
@click.pass_context
def ecx_print(ctx: click.Context, doc_id: int, output: str) -> None:
    """Print export record DOC_ID's declaration data as a PDF (打印); its path."""
    from gateway.ecx import printing

    db = Database(config_mod.load(ctx.obj["config_path"]).database_url)
    try:
        upgrade(db)  # a fresh database answers "no document", not "no such table"
        with db.session() as session:
            pdf = printing.render(session, ADMIN, doc_id, utcnow())
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()
    Path(output).write_bytes(pdf)
    click.echo(output)


COMMANDS = (ecx_print,)
