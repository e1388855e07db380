"""A test made from a production capture: an invoice made in staging, made again today.

`tests/captures/` was copied from a staging run of
`SNAPY_CAPTURE_ENABLED=1 SNAPY_CAPTURE_DIR=captures python -m invoicing run`: each call of
`create_invoice` with its argument and the invoice it returned.
"""

from pathlib import Path
from unittest import mock

import snapy

from invoicing import demo
from tests import support

CAPTURES = Path(__file__).parent / "captures"


class StagingInvoiceTest(snapy.SnapTestCase):
    side_effects = ("invoicing.rates.fetch_rate", "invoicing.mailer.send_mail")

    def test_brightside_invoice_again(self):
        key = snapy.argument_key("invoicing.invoices.create_invoice", {"order_id": 2})
        staging = snapy.load_capture("invoicing.invoices.create_invoice", path=CAPTURES, key=key)
        self.enterContext(support.temporary_database())
        demo.seed()  # the staging database held the demo orders: order 2 is Brightside's
        # The captured invoice says when it was made and under which id: take both from it.
        made = staging.result
        self.enterContext(mock.patch("invoicing.clock.now", return_value=made["issued_at"]))
        self.enterContext(mock.patch("uuid.uuid4", return_value=made["id"]))

        invoice = staging.assert_replays()

        self.assertEqual(invoice["number"], made["number"])
