"""`make kannel-demo`: beside `make run`, a real Kannel and a test SMSC that ACME Shop sends through.

It starts the test SMSC (SMPP on 127.0.0.1:2775, control on 2780), Debian's bearerbox and smsbox
with deploy/kannel/kannel.conf (admin 13000, smsbox 13001, sendsms 13013) and the ticker (beat's
jobs, which `make run` has none of), points ACME Shop at a `kannel-demo` channel, and sends a few
messages: delivered, failed with 520, a two-part Japanese message, one that never gets a receipt,
and a reply "STOP". Watch them on /status/ (log in as demo / demo-password). Ctrl-C stops it all
and gives ACME Shop its channel back.

Kannel calls the console back at SMS_PUBLIC_BASE_URL (default http://127.0.0.1:8000, `make run`).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

from tests.kannel import gateway as kannel_gateway
from tests.kannel.gateway import KannelGateway, wait_until
from tests.kannel.smsc import SmscProcess

ACCOUNT = "acme-shop"
CHANNEL = "kannel-demo"
TAG = "kannel-demo"
SAMPLES = [
    ("+819012340101", "Your verification code is 4821."),
    ("+819012340520", "Your parcel A-1024 has shipped."),  # ending 520: blacklisted at the carrier
    (
        "+819012340202",
        "ご注文ありがとうございます。商品は本日発送いたしました。お届けは二、三日後の予定です。"
        "配送状況はマイページでご確認いただけます。またのご利用をお待ちしております。",  # two UCS-2 parts
    ),
    ("+819012346000", "This one never gets a receipt."),  # ending 000
    ("+819012340303", "Spring sale: 20% off until Sunday. Reply STOP to opt out."),
]
REPLY = ("+819012340303", "STOP")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--console", default="", help="the console's address (default SMS_PUBLIC_BASE_URL)")
    parser.add_argument("--no-samples", action="store_true", help="send nothing; just run the gateway")
    args = parser.parse_args()
    if not kannel_gateway.is_installed():
        sys.exit(f"{kannel_gateway.BEARERBOX} is missing: `sudo apt-get install kannel` first.")
    if args.console:
        os.environ["SMS_PUBLIC_BASE_URL"] = args.console
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsconsole.settings")
    django.setup()

    from django.conf import settings
    from django.db.models import Count

    from delivery.models import Channel, Message, Template
    from delivery.services.kannel import kannel_mo_url
    from delivery.services.setup import channel_create, template_create
    from delivery.services.submission import messages_submit
    from smsconsole.models import Account, SmsUser

    account = Account.objects.filter(slug=ACCOUNT).first()
    if account is None:
        sys.exit("No demo data: run `make run` first (it loads the demo), then `make kannel-demo` beside it.")

    directory = Path(tempfile.mkdtemp(prefix="kannel-demo-"))
    smsc = SmscProcess(directory=directory, receipt_delay=2.0, port=2775, control_port=2780)
    gateway = KannelGateway(directory, smsc_port=smsc.port, ports=(13000, 13001, 13013))
    channel = Channel.objects.filter(code=CHANNEL).first() or channel_create(
        code=CHANNEL,
        kind=Channel.Kind.KANNEL,
        send_url=gateway.sendsms_url,
        send_username=gateway.username,
        send_password=gateway.password,
    )
    gateway.replies_url = kannel_mo_url(channel)
    template = Template.objects.filter(account=account, name=TAG).first() or template_create(
        account=account, name=TAG, type="notification", body="{{text}}", is_approved=True
    )
    sms_user = SmsUser.objects.filter(account=account, is_active=True).order_by("pk").first()
    previous_channel_id = account.default_channel_id
    ticker = None
    print(f"Kannel demo in {directory} (logs: bearerbox.log, smsbox.log, smsc.log, ticker.log)")
    print(f"Kannel calls the console back at {settings.SMS_PUBLIC_BASE_URL}: `make run` must be serving.")
    try:
        smsc.start()
        gateway.start()
        gateway.wait_bound()
        with open(directory / "ticker.log", "ab") as log:
            ticker = subprocess.Popen(
                [sys.executable, "-m", "tests.kannel.ticker", "--interval", "2"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        Account.objects.filter(pk=account.pk).update(default_channel=channel)
        print(f"ACME Shop now sends through Kannel ({gateway.sendsms_url}), bound to the test SMSC.")
        if not args.no_samples:
            started = time.monotonic()
            messages = messages_submit(
                sms_user=sms_user,
                template_id=template.pk,
                tag=TAG,
                recipients=[{"to": to, "vars": {"text": text}} for to, text in SAMPLES],
            )
            sent = time.monotonic() - started
            print(f"Sent {len(SAMPLES)} messages with tag {TAG!r} in {sent:.2f} s: /status/?tag={TAG}")
            [answered] = [m for m in messages if m.phone == REPLY[0]]
            pending = ["requesting", "awaiting_receipt"]
            final = wait_until(
                lambda: Message.objects.filter(pk=answered.pk).exclude(status__in=pending),
                timeout=60,
                interval=0.5,
                what="the message to answer",
            )
            if final[0].status == "delivered":
                smsc.mo(source=REPLY[0], text=REPLY[1])
                print(f"{REPLY[0]} replied {REPLY[1]!r}: /replies/ shows it, and the number is unsubscribed.")
            else:
                print(f"{REPLY[0]} was not sent this time ({final[0].status}: {final[0].reason}): no reply.")
        print(
            "More: send with the API (README), or make a handset answer:\n"
            f"  curl 'http://127.0.0.1:{smsc.control_port}/mo?from=%2B819012340101&text=Thanks'\n"
            "Ctrl-C stops Kannel and the SMSC and gives ACME Shop its channel back."
        )
        last = None
        while True:
            counts = dict(
                Message.objects.filter(channel=channel).values_list("status").annotate(n=Count("id"))
            )
            line = f"through Kannel so far: {counts or 'nothing'}; SMSC: {smsc.status()}"
            if line != last:
                print(line, flush=True)
                last = line
            time.sleep(3)
    except KeyboardInterrupt:
        print("\nStopping.")
    finally:
        Account.objects.filter(pk=account.pk).update(default_channel_id=previous_channel_id)
        kannel_gateway._stop(ticker, timeout=10)
        gateway.stop()
        smsc.stop()


if __name__ == "__main__":
    main()
