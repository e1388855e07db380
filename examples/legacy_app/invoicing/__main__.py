"""python -m invoicing seed | run | list

    seed   add the demo customers and their pending orders to the database
    run    invoice every pending order (the nightly job)
    list   print the invoices in the database

Settings come from the environment: INVOICING_DB, RATES_URL, RATES_API_KEY, SMTP_HOST,
SMTP_PORT, SMTP_USER, SMTP_PASSWORD.
"""

import sys

from . import config, db, demo, invoices


def main(argv):
    command = argv[0] if argv else ""
    if command == "seed":
        print(f"seeded orders {demo.seed()} into {config.DATABASE}")
    elif command == "run":
        result = invoices.invoice_pending_orders()
        for invoice in result["invoiced"]:
            number, customer, total = invoice["number"], invoice["customer"], invoice["total"]
            print(f"{number}  {customer:<16}{total:>14}  {invoice['status']}")
        for order_id, reason in result["waiting"].items():
            print(f"order {order_id} waits: {reason}")
    elif command == "list":
        for row in db.invoices():
            total = f"{row['total']} {row['currency']}"
            print(f"{row['number']}  order {row['order_id']}  {total}  {row['status']}")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
