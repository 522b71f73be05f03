"""Salesforce's stand-in: Web-to-Lead."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from devstack.services.judging import Context, Request, StandIn, Verdict, text_verdict

# https://help.salesforce.com/s/articleView?id=sf.setting_up_web-to-lead.htm and
# https://help.salesforce.com/s/articleView?id=sf.customize_leads_web_guidelines.htm (a form POST to
# /servlet/servlet.WebToLead?encoding=UTF-8 with the org's oid; no credentials; the answer does not
# say whether a lead was made: refused leads go to the default lead creator by e-mail)
# https://help.salesforce.com/apex/HTViewSolution?id=000005004 (an invalid Org ID: no lead, an
# e-mail to support)

DEMO_CREDENTIALS = {"oid": "00D5g000004DEMO"}
"""The org's `oid` in the form."""
DEMO_PRESET_VALUES = {"oid": DEMO_CREDENTIALS["oid"]}


def judge_salesforce(request: Request, context: Context) -> Verdict:
    if request.path != "/servlet/servlet.WebToLead":
        return text_verdict(404, "<html><body>Not found</body></html>", rejected="unknown path")
    if request.method != "POST":
        return text_verdict(200, "", rejected="not a POST: nothing created")
    # Without ?encoding=UTF-8 the servlet reads the form as ISO-8859-1 (non-ASCII names come out mangled).
    charset = "utf-8" if [v.upper() for v in request.query.get("encoding", [])] == ["UTF-8"] else "iso-8859-1"
    fields: dict[str, str] = {}
    if request.media_type == "application/x-www-form-urlencoded":
        parsed = parse_qs(request.body.decode("ascii", "replace"), keep_blank_values=True, encoding=charset)
        fields = {name: values[0] for name, values in parsed.items()}
    return_url = fields.get("retURL", "")
    page = f'<html><head><meta http-equiv="Refresh" content="0; URL={return_url}"></head></html>' if return_url else ""
    ok = text_verdict(200, page, content_type="text/html;charset=UTF-8")
    oid = fields.get("oid", "")
    if not oid:
        ok.rejected = f"no oid (content type {request.media_type or 'missing'}): lead dropped"
        return ok
    if not re.fullmatch(r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?", oid) or (
        context.expected is not None and oid[:15] != context.expected["oid"][:15]
    ):
        ok.rejected = f"unknown oid {oid}: lead dropped"
        return ok
    lead = {name: value for name, value in fields.items() if name not in ("oid", "retURL", "debug", "debugEmail")}
    # Last Name and Company are required on a lead; Web-to-Lead fills what the form left out.
    for name in ("last_name", "company"):
        if not lead.get(name, "").strip():
            lead[name] = "[not provided]"
    ok.created = {"id": f"00Q5g00000{context.next_id:08d}", "oid": oid, **lead}
    return ok


STAND_IN = StandIn(judge_salesforce, DEMO_CREDENTIALS, DEMO_PRESET_VALUES)
