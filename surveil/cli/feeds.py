"""``surveil feed ...``: issue, list, revoke and rotate a patient's private calendar feeds."""

import dataclasses
from typing import Any

import click
import segno
from rich.table import Table

from surveil.cli._common import App, console, err_console, get_app, json_option, print_json
from surveil.services.actor import Actor
from surveil.services.feeds import manage
from surveil.services.feeds.manage import FeedIssued
from surveil.services.feeds.tokens import FeedSummary

by_option = click.option(
    "--by",
    "by",
    metavar="USER",
    help="The surveil user doing this: the same as the global --as USER, for older scripts.",
)


@click.group()
def feed() -> None:
    """Private calendar feeds a patient subscribes to from their calendar app.

    \b
    A feed URL is a secret: whoever has it can read the patient's follow-up dates (never the
    diagnosis). It is shown once, when issued; only a hash is kept, so it cannot be shown again.
    A patient may have several (one per phone or app), each revocable on its own.
      surveil feed issue D000123 --label "iPhone"     prints the URLs (once) and a QR code
      surveil feed list D000123                       label, created, last fetched, fetches
      surveil feed rotate 3f9c0a1b2d4e5f60            a new URL; the old one stops at once
      surveil feed revoke 3f9c0a1b2d4e5f60            the URL stops working at once
    \b
    Give Apple devices the webcal:// link (an https link on iOS imports once and never updates);
    Google and Outlook on the web take the https:// link. Calendar apps refresh slowly (Google
    about every 8–24 hours), so urgent changes go by letter, text message or email.
    """


@feed.command("issue")
@click.argument("mrn")
@click.option("--label", default="", help='What the feed is for, e.g. "iPhone" (max 64).')
@click.option("--qr/--no-qr", default=True, help="Print a QR code of the webcal:// link.")
@by_option
@json_option
@click.pass_context
def issue(
    ctx: click.Context, mrn: str, label: str, qr: bool, by: str | None, as_json: bool
) -> None:
    """Issue a new feed for patient MRN and print its URLs (this is the only time).

    \b
    Example:
      surveil feed issue 100234 --label "iPhone"
    """
    app = get_app(ctx)
    actor = _actor(app, by)
    patient_id = manage.find_patient(app.engine, actor=actor, mrn=mrn, clinic=app.clinic)
    issued = manage.issue_patient_feed(
        app.engine,
        actor=actor,
        patient_id=patient_id,
        label=label,
        base_url=app.settings.web.public_url,
    )
    if as_json:
        print_json({**_as_dict(issued.feed, mrn), **_urls(issued)})
        return
    _print_issued(app, issued, qr=qr)


@feed.command("list")
@click.argument("mrn")
@json_option
@click.pass_context
def list_(ctx: click.Context, mrn: str, as_json: bool) -> None:
    """List a patient's feeds: active first. Tokens are never stored, so never shown.

    \b
    Example:
      surveil feed list 100234
    """
    app = get_app(ctx)
    actor = app.actor()
    patient_id = manage.find_patient(app.engine, actor=actor, mrn=mrn, clinic=app.clinic)
    _, rows = manage.list_patient_feeds(app.engine, actor=actor, patient_id=patient_id)
    data = [_as_dict(row, mrn) for row in rows]
    if as_json:
        print_json(data)
        return
    if not data:
        console.print(f"No calendar feeds for {mrn}. Issue one: surveil feed issue {mrn}")
        return
    table = Table("label", "created", "by", "last fetched", "fetches", "status")
    table.add_column("id", no_wrap=True, min_width=16)  # whole: it is what revoke/rotate take
    for row in rows:
        table.add_row(
            row.label or "—",
            f"{row.created_at:%Y-%m-%d}",
            row.created_by,
            f"{row.last_seen_at:%Y-%m-%d %H:%M}" if row.last_seen_at else "never",
            str(row.fetch_count),
            "active" if row.active else f"[dim]revoked {row.revoked_at:%Y-%m-%d}[/]",
            row.public_id,
        )
    console.print(table)


@feed.command("revoke")
@click.argument("feed_id")
@by_option
@click.pass_context
def revoke(ctx: click.Context, feed_id: str, by: str | None) -> None:
    """Revoke feed FEED_ID (from `surveil feed list`): its URL answers 404 from now on.

    \b
    Example:
      surveil feed revoke 3f9c0a1b2d4e5f60
    """
    app = get_app(ctx)
    revoked = manage.revoke_patient_feed(
        app.engine, actor=_actor(app, by), public_id=feed_id, now=app.now()
    )
    row = revoked.feed
    console.print(
        f"[green]revoked[/] feed {row.public_id} of {revoked.patient.mrn} "
        f"(at {row.revoked_at:%Y-%m-%d %H:%M} UTC). A calendar subscribed to it stops "
        "updating and keeps its last copy until the patient removes it."
    )


@feed.command("rotate")
@click.argument("feed_id")
@click.option("--qr/--no-qr", default=True, help="Print a QR code of the new webcal:// link.")
@by_option
@click.pass_context
def rotate(ctx: click.Context, feed_id: str, qr: bool, by: str | None) -> None:
    """Replace feed FEED_ID's URL: a new one is issued and the old one stops at once.

    \b
    Example:
      surveil feed rotate 3f9c0a1b2d4e5f60 --no-qr
    """
    app = get_app(ctx)
    issued = manage.rotate_patient_feed(
        app.engine,
        actor=_actor(app, by),
        public_id=feed_id,
        base_url=app.settings.web.public_url,
        now=app.now(),
    )
    console.print(f"[green]rotated[/] feed {feed_id} → {issued.feed.public_id} (old URL revoked)")
    _print_issued(app, issued, qr=qr)


def _actor(app: App, by: str | None) -> Actor:
    """The --as user, or the one --by names (checked the same way: known and active)."""
    return dataclasses.replace(app, as_user=by).actor() if by else app.actor()


def _print_issued(app: App, issued: FeedIssued, *, qr: bool) -> None:
    console.print(
        f"[green]issued[/] feed {issued.feed.public_id} for {issued.patient.mrn}. ", end=""
    )
    console.print("[bold]These URLs are shown only now[/]; give them to the patient only.")
    console.print(f"  Apple, Outlook desktop:     {issued.urls.webcal}", soft_wrap=True)
    console.print(f"  Google and other apps:     {issued.urls.https}", soft_wrap=True)
    if not app.settings.web.public_url.startswith("https://"):
        err_console.print(
            "[yellow]warning:[/] web.base_url is not https. Some apps fetch webcal:// links "
            "over plain http, sending the secret in clear: serve feeds over https only."
        )
    if qr:
        segno.make(issued.urls.webcal, error="m").terminal(compact=True)


def _urls(issued: FeedIssued) -> dict[str, str]:
    return {"https": issued.urls.https, "webcal": issued.urls.webcal}


def _as_dict(row: FeedSummary, mrn: str) -> dict[str, Any]:
    return {
        "id": row.public_id,
        "mrn": mrn,
        "label": row.label,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "last_seen_at": row.last_seen_at,
        "fetch_count": row.fetch_count,
        "revoked_at": row.revoked_at,
        "active": row.active,
    }


COMMANDS = [feed]
