"""Give scripts/contract-fuzz's schemathesis ids that exist, so that its cases get past 404.

Usage: contract-fuzz-seed.py BASE_URL CONFIG_FILE

Reads the demo data of the running service, makes one submitted application and one draft
with an annex (as the README's walkthrough does), and writes a schemathesis configuration
whose dictionaries offer these ids for the path, query and body parameters of the same
name, half of the time: the other half stays random, so that 404 keeps being fuzzed too.
"""

import json
import sys
import urllib.error
import urllib.request

BASE, CONFIG = sys.argv[1], sys.argv[2]
# How often a bound parameter takes a real id rather than a generated one.
PROBABILITY = 0.5


def call(method, path, token=None, body=None):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.load(res)
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}")


def small_pdf(text):
    """A one-page PDF with a correct cross-reference table; `text` makes each one distinct."""
    out = bytearray(f"%PDF-1.4\n% {text}\n".encode())
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    offsets = []
    for i, o in enumerate(objects):
        offsets.append(len(out))
        out += f"{i + 1} 0 obj\n{o}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for o in offsets:
        out += f"{o:010} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def upload(path, token, metadata, file_name, content):
    """An annex upload: a multipart form with its metadata part and its file part."""
    boundary = "contract-fuzz-seed-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
        f"Content-Type: application/json\r\n\r\n{json.dumps(metadata)}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n"
        f"Content-Type: application/pdf\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    headers = {
        "Accept": "application/json",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Authorization": "Bearer " + token,
    }
    req = urllib.request.Request(BASE + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.load(res)
    except urllib.error.HTTPError as e:
        sys.exit(f"POST {path}: {e.code} {e.read().decode(errors='replace')}")


def login(username, password):
    body = {"username": username, "password": password}
    return call("POST", "/api/v1/auth/login", body=body)["access_token"]


def ids(path, token):
    return [item["id"] for item in call("GET", path, token)["items"]]


admin = login("admin@demo.welfare-grants.test", "demo-admin-password")
applicant = login("richiedente1@demo.welfare-grants.test", "demo-applicant-password")
schemas = call("GET", "/api-docs/openapi.json")["components"]["schemas"]

# The applicant's demo partnership, in the edition whose window is open, and a second one led
# by another of its organizations (a partnership has one application per call).
demo = next(
    p for p in call("GET", "/api/v1/partnerships?per_page=100", applicant)["items"] if p["can_manage"]
)
other_lead = next(
    o["id"]
    for o in call("GET", "/api/v1/organizations?per_page=100", applicant)["items"]
    if o["representatives"] and o["id"] != demo["lead_organization_id"]
)
second = call(
    "POST",
    "/api/v1/partnerships",
    applicant,
    {"call_id": demo["call_id"], "lead_organization_id": other_lead, "name": "Contract fuzzing"},
)


def application(partnership):
    """A draft of the partnership with the example content and annex."""
    body = json.loads(json.dumps(schemas["NewApplication"]["example"]))
    body["partnership_id"] = partnership["id"]
    for line in body["content"]["budget"]["lines"]:
        line["borne_by"] = partnership["lead_organization_id"]
    app = call("POST", "/api/v1/applications", applicant, body)
    annex = upload(
        f"/api/v1/applications/{app['id']}/documents",
        applicant,
        {"kind": "partnership_agreement"},
        "accordo-partenariato.pdf",
        small_pdf(f"Accordo di partenariato {partnership['id']}"),
    )
    return app["id"], annex["id"]


# One submitted, for the agency's review; one draft (of a partnership that is not eligible,
# so that it stays one), for its applicant.
submitted, submitted_annex = application(demo)
call("POST", f"/api/v1/applications/{submitted}/submit", applicant)
draft, annex = application(second)

dictionaries = {
    "calls": ids("/api/v1/calls?per_page=100", admin),
    "organizations": ids("/api/v1/organizations?per_page=100", admin),
    "partnerships": ids("/api/v1/partnerships?per_page=100", admin),
    "applications": [submitted, draft],
    "documents": [submitted_annex, annex],
}
parameters = {
    "path.call_id": "calls",
    "query.call_id": "calls",
    "body.call_id": "calls",
    "path.organization_id": "organizations",
    "body.organization_id": "organizations",
    "path.partnership_id": "partnerships",
    "body.partnership_id": "partnerships",
    "path.application_id": "applications",
    "path.document_id": "documents",
}

with open(CONFIG, "w") as out:
    for name, values in dictionaries.items():
        out.write(f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n\n")
    out.write("[parameters]\n")
    for key, name in parameters.items():
        out.write(f'"{key}" = {{ dictionary = "{name}", probability = {PROBABILITY} }}\n')
print(
    "real ids offered: "
    + ", ".join(f"{len(values)} {name}" for name, values in dictionaries.items())
)
