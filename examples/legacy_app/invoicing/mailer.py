"""Invoice e-mails, sent over SMTP."""

import smtplib
from email.message import EmailMessage

from . import config


def send_mail(to, subject, body, smtp_password):
    """Send one plain-text e-mail from the billing address; returns the refused recipients."""
    message = EmailMessage()
    message["From"] = config.SENDER
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(config.SMTP_HOST, config.SMTP_PORT, timeout=10) as smtp:
        smtp.login(config.SMTP_USER, smtp_password)
        return smtp.send_message(message)
