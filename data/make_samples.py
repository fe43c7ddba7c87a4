"""Generate docdistill's own small sample PDFs, deterministically.

Every name, number and sentence is invented; nothing is copied from elsewhere.
The samples cover the document shapes the pipeline must cope with:

  invoice_en.pdf            English bank invoice: letterhead, dates, bill-to, ruled line-item table, VAT, total
  letter_ar.pdf             Arabic business letter, right-to-left, shaped by HarfBuzz (MuPDF Story)
  report_multipage.pdf      3-page report: H1/H2 headings, paragraphs, bullets, table, page-number footers
  scan_image_only.pdf       one skewed, noisy, faded JPEG "scan" and no text layer at all
  rotated_90.pdf            portrait page with /Rotate 90 whose landscape table reads upright when displayed
  form_stamp_signature.pdf  filled form with boxes and checkboxes, red round stamp, blue box stamp, ink signature

Run:  python data/make_samples.py [--out DIR]      (default: data/samples next to this script)
Running it twice gives byte-identical files (fixed metadata, fixed seed, no fresh /ID).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np
import pymupdf

A4 = (595, 842)
NAVY, GREY, WHITE, INK_BLUE = (0.09, 0.18, 0.36), (0.45, 0.45, 0.45), (1, 1, 1), (0.1, 0.2, 0.65)
STAMP_RED, STAMP_BLUE = (0.8, 0.12, 0.15), (0.15, 0.25, 0.7)
FIXED_DATE = "D:20250101000000Z"  # a constant date keeps the output reproducible
INVOICE_NO = "NCB-INV-2025-00417"


def save(doc: pymupdf.Document, path: Path, title: str, subject: str) -> None:
    """Write with fixed metadata; no_new_id + reproducible keep /ID and bytes stable across runs."""
    doc.set_metadata({"title": title, "author": "docdistill", "subject": subject, "keywords": "sample",
                      "creator": "docdistill make_samples", "producer": "PyMuPDF",
                      "creationDate": FIXED_DATE, "modDate": FIXED_DATE})
    # MuPDF puts a stray /Info (naming its version) in new catalogs; null is "absent" in PDF.
    doc.xref_set_key(doc.pdf_catalog(), "Info", "null")
    doc.subset_fonts()  # embedded fonts (Story output) shrink to the glyphs used
    # clean=True merges the many small content streams insert_text leaves into one per page.
    doc.save(path, garbage=3, clean=True, deflate=True, no_new_id=True, reproducible=True)
    doc.close()
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def put(page, x, y, s, size=10, font="helv", color=(0, 0, 0), right=False, **kw):
    """Write one line of Base14 text at baseline (x, y); with right=True, x is where the line ends."""
    if right:  # right-aligned numbers line up on their last digit, as in real tables
        x -= pymupdf.get_text_length(s, font, size)
    page.insert_text((x, y), s, fontsize=size, fontname=font, color=color, **kw)


def invoice_en(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    # Letterhead: a coloured band as real bank stationery has, address on the right.
    page.draw_rect(pymupdf.Rect(0, 0, A4[0], 90), color=None, fill=NAVY)
    put(page, 50, 48, "Northwind Commercial Bank", 22, "hebo", WHITE)
    put(page, 50, 68, "Corporate Banking Services", 10, color=(0.8, 0.85, 0.95))
    for i, line in enumerate(["7 Harbourgate Square", "Eastmere EM2 9QX", "+00 20 5550 0117"]):
        put(page, 545, 36 + 14 * i, line, 9, color=WHITE, right=True)
    put(page, 50, 140, "INVOICE", 26, "hebo", NAVY)
    meta = [("Invoice No.", INVOICE_NO), ("Issue date", "14 March 2025"), ("Due date", "13 April 2025"),
            ("Customer ID", "C-0082215")]
    for i, (k, v) in enumerate(meta):
        put(page, 340, 122 + 16 * i, k + ":", font="hebo")
        put(page, 545, 122 + 16 * i, v, right=True)
    put(page, 50, 200, "Bill to", font="hebo", color=NAVY)
    for i, line in enumerate(["Halvorsen Marine Supplies Ltd", "Attn: Accounts Payable", "18 Quayside Road",
                              "Port Ellery PE4 7QT"]):
        put(page, 50, 216 + 14 * i, line)
    # Line items: amounts are computed, so subtotal, VAT and total always agree.
    items = [("Business account maintenance fee (Q1 2025)", 3, 45.00), ("SEPA outgoing transfers", 42, 0.35),
             ("International SWIFT payments", 6, 18.50), ("Cheque book, 50 leaves", 2, 12.00),
             ("Online banking token replacement", 1, 25.00)]
    cols, top, rh = [50, 330, 390, 470, 545], 300, 22
    page.draw_rect(pymupdf.Rect(50, top, 545, top + rh), color=NAVY, fill=NAVY)
    put(page, 56, top + 15, "Description", font="hebo", color=WHITE)
    for x, head in zip(cols[2:], ["Qty", "Unit price", "Amount"]):
        put(page, x - 6, top + 15, head, font="hebo", color=WHITE, right=True)
    subtotal = 0.0
    for r, (desc, qty, unit) in enumerate(items, start=1):
        subtotal += qty * unit
        put(page, 56, top + rh * r + 15, desc)
        for x, val in zip(cols[2:], [str(qty), f"{unit:,.2f}", f"{qty * unit:,.2f}"]):
            put(page, x - 6, top + rh * r + 15, val, right=True)
    bottom = top + rh * (len(items) + 1)
    for r in range(len(items) + 2):  # rules between all rows and columns: a fully ruled table
        page.draw_line((50, top + rh * r), (545, top + rh * r), color=GREY, width=0.6)
    for x in cols:
        page.draw_line((x, top), (x, bottom), color=GREY, width=0.6)
    vat = round(subtotal * 0.20, 2)
    for i, (k, v) in enumerate([("Subtotal", subtotal), ("VAT 20%", vat), ("Total (GBP)", subtotal + vat)]):
        font = "hebo" if k.startswith("Total") else "helv"
        put(page, 390, bottom + 20 + 18 * i, k, 11, font)
        put(page, 539, bottom + 20 + 18 * i, f"{v:,.2f}", 11, font, right=True)
    page.draw_line((390, bottom + 44), (545, bottom + 44), width=0.8)
    put(page, 50, 560, "Payment instructions", 11, "hebo")
    for i, line in enumerate(["Please pay by the due date quoting the invoice number as reference.",
                              "Account name: Northwind Commercial Bank - Fees",
                              "IBAN: XX00 NWCB 0000 1234 5678 90 (sample, not valid)", "BIC: NWCBXX00"], start=1):
        put(page, 50, 560 + 15 * i, line)
    page.draw_line((50, 790), (545, 790), color=GREY, width=0.5)
    put(page, 50, 805, "Northwind Commercial Bank is a fictitious bank. Sample document generated for software "
        "testing.", 7.5, color=GREY)
    save(doc, path, f"Invoice {INVOICE_NO}", "English bank invoice sample")


LETTER_AR = """
<div dir="rtl">
<p class="head">شركة الواحة للتجارة العامة</p>
<p class="sub">ص. ب. 4521 - هاتف: 002-0231-5550</p><hr/>
<p>التاريخ: 2025/03/12<br/>الرقم: و ت/2025/117</p>
<p>السادة شركة النخيل للصناعات الغذائية<br/>السيد مدير إدارة المشتريات المحترم</p>
<p class="subj">الموضوع: طلب عرض أسعار لتوريد مواد تغليف</p>
<p>تحية طيبة وبعد،</p>
<p>يسرنا أن نتقدم إليكم بهذا الكتاب راجين تزويدنا بعرض أسعار مفصل لتوريد مواد التغليف الكرتونية
المطلوبة لمصنعنا الجديد، على أن يشمل العرض الكميات وأسعار الوحدة ومدة التوريد وشروط الدفع.</p>
<p>كما نرجو إرفاق عينات من المواد المقترحة مع شهادات الجودة الخاصة بها، علماً بأن آخر موعد لاستلام
العروض هو نهاية الشهر الحالي، وسيتم تقييم جميع العروض المستلمة وفق معايير الجودة والسعر.</p>
<p>شاكرين لكم حسن تعاونكم، ونتطلع إلى استمرار العلاقة الطيبة بين شركتينا.</p>
<p>وتفضلوا بقبول فائق الاحترام والتقدير،</p>
<p class="sign">المدير العام<br/>خالد سعيد العمري</p>
</div>"""


def letter_ar(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    # insert_htmlbox runs MuPDF's Story: HarfBuzz shaping, bidi, and the built-in Noto Naskh Arabic font.
    # No text-align on head/sign: in RTL the default start side is the right, as in a real Arabic letter.
    # (There is no bold Arabic face built in, so emphasis is by size and colour.)
    # Known MuPDF limit: the text layer gets presentation forms, but the font's lam/lam-alef glyphs get no
    # ToUnicode entry and extract as junk; what is drawn is right. Arabic-Indic digits also make MuPDF
    # extract a whole line in visual order, so the letter uses Western digits.
    css = ("body {font-size: 13px; line-height: 1.6; text-align: justify;} p {margin: 0 0 9px 0;}"
           ".head {font-size: 20px; color: #173060; margin: 0;} .sub {font-size: 10px; color: #666;}"
           ".subj {color: #173060;} .sign {margin-top: 30px;}")
    spare, _ = page.insert_htmlbox(pymupdf.Rect(60, 50, 535, 800), LETTER_AR, css=css, scale_low=1)
    assert spare >= 0, "letter does not fit the page"
    save(doc, path, "Arabic letter", "Arabic right-to-left business letter sample")


REPORT_PAGES = [
    """<h1>Quarterly Operations Report, Q1 2025</h1>
<p class="meta">Larkspur Logistics Ltd (fictitious) - prepared by the Operations Office - 4 April 2025</p>
<h2>1. Executive summary</h2>
<p>The first quarter closed with shipment volumes 6.8% above plan and on-time delivery at 94.1%, the best result
since the network reorganisation. Costs per parcel fell slightly as the new sorting line in Brackenfield reached
full capacity in February.</p>
<p>Two issues need attention: driver turnover in the northern depots remains high, and the carrier contract for
the island routes expires in June. Both are discussed in section 5.</p>
<h2>2. Key highlights</h2>
<ul><li>Shipments: 412,380 parcels (plan 386,100).</li><li>On-time delivery: 94.1% (Q4 2024: 91.7%).</li>
<li>Damaged-in-transit claims down to 0.21% of parcels.</li><li>Sorting line commissioned on 3 February.</li>
<li>Customer satisfaction survey score 8.2 out of 10.</li></ul>""",
    """<h2>3. Shipment volumes</h2>
<p>Volumes grew in every region. The southern region benefited from two new retail accounts; the island routes
were flat because of weather cancellations in January.</p>
<table><tr><th>Region</th><th>January</th><th>February</th><th>March</th><th>Total</th></tr>
<tr><td>North</td><td>38,210</td><td>36,940</td><td>41,005</td><td>116,155</td></tr>
<tr><td>Central</td><td>44,870</td><td>43,120</td><td>47,360</td><td>135,350</td></tr>
<tr><td>South</td><td>39,550</td><td>40,815</td><td>44,090</td><td>124,455</td></tr>
<tr><td>Islands</td><td>11,930</td><td>11,640</td><td>12,850</td><td>36,420</td></tr>
<tr><th>All regions</th><th>134,560</th><th>132,515</th><th>145,305</th><th>412,380</th></tr></table>
<h2>4. Service quality</h2>
<p>On-time delivery improved in all regions except the islands, where most late deliveries followed missed ferry
connections; a revised cut-off time for island parcels was introduced on 10 March. Complaints per thousand
parcels fell from 3.4 to 2.9.</p>""",
    """<h2>5. Risks and mitigations</h2>
<ul><li><b>Driver turnover</b> (North, 11% per quarter): retention bonus pilot from May.</li>
<li><b>Island carrier contract</b> expiring 30 June: tender launched, three bids received.</li>
<li><b>Fuel prices</b>: 60% of Q2-Q3 volume hedged at fixed rates.</li></ul>
<h2>6. Outlook</h2>
<p>For Q2 we expect volumes of about 425,000 parcels. The priorities are to close the island carrier tender,
extend photo-on-delivery to all depots and start the second sorting line study.</p>""",
]


def report_multipage(path: Path) -> None:
    doc = pymupdf.open()
    css = ("body {font-family: sans-serif; font-size: 11px; line-height: 1.45;} h1 {font-size: 20px; color: #173060;}"
           "h2 {font-size: 14px; color: #173060; margin-top: 14px;} .meta {color: #666; font-size: 9px;}"
           "table {border-collapse: collapse; width: 100%;} th {background-color: #dde4f0;}"
           "th, td {border: 1px solid #888; padding: 3px 6px; text-align: right;}"
           "th:first-child, td:first-child {text-align: left;}")
    for n, html in enumerate(REPORT_PAGES, start=1):
        page = doc.new_page(width=A4[0], height=A4[1])
        page.insert_htmlbox(pymupdf.Rect(60, 60, 535, 770), html, css=css, scale_low=1)
        # Footer: running title and page number, as a real report carries.
        page.draw_line((60, 790), (535, 790), color=GREY, width=0.5)
        put(page, 60, 805, "Larkspur Logistics - Q1 2025 Operations Report", 8, color=GREY)
        put(page, 535, 805, f"Page {n} of {len(REPORT_PAGES)}", 8, color=GREY, right=True)
    save(doc, path, "Quarterly Operations Report Q1 2025", "Three-page report sample")


def scan_image_only(path: Path) -> None:
    # 1. A clean page to "print": a delivery note in Courier, as from an old office printer.
    items = [("0012", "Pine batten 44x22mm, 2.4m", 40), ("0047", "Plywood sheet 18mm 2440x1220", 12),
             ("0103", "Wood screws 4x40 (box of 200)", 6), ("0219", "PVA wood glue 1L", 4),
             ("0233", "Sandpaper assorted (pack)", 3)]
    lines = ["BRACKENFIELD TIMBER & HARDWARE CO.", "Unit 4, Millpond Trading Estate", "",
             "DELIVERY NOTE   No. DN-58213", "Date: 21/02/2025        Vehicle: BT-07", "",
             "Deliver to: Oakridge Joinery", "            22 Fenwick Lane", "",
             f"{'Item':6}{'Description':32}Qty", f"{'----':6}{'-' * 30:32}---",
             *(f"{code:6}{desc:32}{qty:3}" for code, desc, qty in items),
             "", "Received in good condition:", "", "Name: ____________________   Signature: ______________"]
    src = pymupdf.open()
    page = src.new_page(width=A4[0], height=A4[1])
    for i, line in enumerate(lines):
        put(page, 60, 90 + 22 * i, line, 11, "cour")
    pix = page.get_pixmap(matrix=pymupdf.Matrix(1.3, 1.3), colorspace=pymupdf.csGRAY)  # 774 x 1095 px
    img = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width).astype(np.float32)
    src.close()
    # 2. Degrade it the way a cheap office scanner does.
    h, w = img.shape
    img = 255 - (255 - img) * 0.78  # faded toner: black becomes dark grey
    skew = cv2.getRotationMatrix2D((w / 2, h / 2), 1.5, 1.0)  # paper fed slightly crooked
    img = cv2.warpAffine(img, skew, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    img = cv2.GaussianBlur(img, (3, 3), 0.7)  # scanner optics are never perfectly sharp
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img *= 1 - 0.07 * xx / w - 0.04 * yy / h  # uneven lamp illumination
    paper = np.array([212, 232, 240], np.float32)  # yellowish recycled paper (BGR)
    rng = np.random.default_rng(20250221)  # fixed seed: the same grain every run
    grain = rng.normal(0, 5, (h, w, 1)).astype(np.float32)  # same on every channel, so chroma stays smooth
    out = np.clip(img[..., None] / 255 * paper + grain, 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert ok
    # 3. The JPEG is the page's only content: no text layer, as with a real scan.
    doc = pymupdf.open()
    doc.new_page(width=A4[0], height=A4[1]).insert_image(pymupdf.Rect(0, 0, *A4), stream=jpg.tobytes())
    save(doc, path, "Scanned delivery note", "Image-only scanned page sample (no text layer)")


ROSTER = """Week|Unit|Model|Inspector|Area|Last service|Status
10|FL-01|Atlas 25E|R. Okafor|Dock A|03/02/2025|OK
10|FL-02|Atlas 25E|R. Okafor|Dock A|05/02/2025|OK
11|FL-03|Vega 30D|M. Lindqvist|Cold store|17/01/2025|Brake check
11|FL-04|Vega 30D|M. Lindqvist|Cold store|20/01/2025|OK
12|FL-05|Atlas 18E|S. Baptiste|Mezzanine|28/02/2025|Battery low
12|FL-06|Atlas 18E|S. Baptiste|Yard|02/03/2025|OK
13|FL-07|Titan 50D|J. Moreau|Yard|11/12/2024|Overdue"""


def rotated_90(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.set_rotation(90)  # stored portrait, displayed landscape (842 x 595)
    # Lay out in displayed coordinates and map them back to the unrotated page; text written with
    # rotate=90 then reads upright in any viewer that honours /Rotate.
    d = page.derotation_matrix

    def text(x, y, s, size=10, font="helv"):
        page.insert_text(pymupdf.Point(x, y) * d, s, fontsize=size, fontname=font, rotate=90)

    text(50, 60, "NOTICE - Forklift inspection schedule, Warehouse 3", 18, "hebo")
    text(50, 82, "All forklifts must be inspected before use in the weeks shown. Report defects to the shift lead.")
    rows = [line.split("|") for line in ROSTER.splitlines()]
    xs, top, rh = [50, 110, 190, 300, 430, 550, 670, 792], 110, 26
    for r, row in enumerate(rows):
        for x, cell in zip(xs, row):
            text(x + 6, top + rh * r + 17, cell, 11, "hebo" if r == 0 else "helv")
    for r in range(len(rows) + 1):
        page.draw_line(pymupdf.Point(50, top + rh * r) * d, pymupdf.Point(792, top + rh * r) * d, color=GREY,
                       width=1.2 if r < 2 else 0.6)
    for x in xs:
        page.draw_line(pymupdf.Point(x, top) * d, pymupdf.Point(x, top + rh * len(rows)) * d, color=GREY, width=0.6)
    text(50, 540, "Issued by Site Safety Office, Brackenfield depot - valid until 31 March 2025", 9)
    save(doc, path, "Forklift inspection notice", "Landscape content on a page with /Rotate 90")


def stamp_round(page, c, r, ring, middle, date, tilt):
    """Round rubber stamp: two rings, text set around the ring letter by letter, tilted as stamps are.
    Angles run clockwise on screen; insert_text's morph turns the other way, hence Matrix(-angle) for text."""
    page.draw_circle(c, r, color=STAMP_RED, width=2.2)
    page.draw_circle(c, r - 11, color=STAMP_RED, width=0.8)
    size, rt = 7.5, r - 8.5
    widths = [pymupdf.get_text_length(ch, "hebo", size) for ch in ring]
    step = (2 * math.pi * rt - sum(widths)) / len(ring)  # spread letters evenly over the full circle
    a = math.radians(tilt)
    for ch, wd in zip(ring, widths):
        p = pymupdf.Point(c.x + rt * math.sin(a), c.y - rt * math.cos(a))  # baseline start on the ring
        page.insert_text(p, ch, fontsize=size, fontname="hebo", color=STAMP_RED,
                         morph=(p, pymupdf.Matrix(-math.degrees(a))))
        a += (wd + step) / rt
    for s, dy, sz in [(middle, 2, 12), (date, 16, 7.5)]:
        p = c + pymupdf.Point(-pymupdf.get_text_length(s, "hebo", sz) / 2, dy)
        page.insert_text(p, s, fontsize=sz, fontname="hebo", color=STAMP_RED, morph=(c, pymupdf.Matrix(-tilt)))
    for dy in (-11, 6):  # bars framing the centre word
        ends = [c + pymupdf.Point(dx, dy) * pymupdf.Matrix(tilt) for dx in (r - 14, 14 - r)]
        page.draw_line(*ends, color=STAMP_RED, width=0.8)


def stamp_box(page, c, lines, tilt):
    """Rectangular date stamp in blue ink, double-struck border, tilted the other way."""
    for grow in (0, 3):
        quad = pymupdf.Rect(-62 - grow, -24 - grow, 62 + grow, 24 + grow).quad * pymupdf.Matrix(tilt)
        page.draw_quad(quad * pymupdf.Matrix(1, 0, 0, 1, c.x, c.y), color=STAMP_BLUE, width=1.6 - grow / 3)
    for s, dy, sz in lines:
        p = c + pymupdf.Point(-pymupdf.get_text_length(s, "hebo", sz) / 2, dy)
        page.insert_text(p, s, fontsize=sz, fontname="hebo", color=STAMP_BLUE, morph=(c, pymupdf.Matrix(-tilt)))


def signature(page, x0, y0):
    """Handwritten-looking ink: a slanted trochoid (loops where a letter has one, humps where not),
    smoothed into Bezier curves (Catmull-Rom), ending in a flourish back under the name."""
    letters = [(30, 10), (11, 5), (9, 0), (8, 0), (19, 6), (8, 2), (10, 5), (7, 0), (7, 0)]  # (height, loop)
    pts, x = [], x0
    for k, (height, loop) in enumerate(letters):
        for j in range(16):
            t = j / 16 * 2 * math.pi
            h = height * (0.5 - 0.5 * math.cos(t))
            # +sin puts the loop at the top of each stroke; +0.4*h slants it; the baseline drifts up.
            pts.append(pymupdf.Point(x + 3.3 * t + loop * math.sin(t) + 0.4 * h, y0 - 1.2 * k - h))
        x += 3.3 * 2 * math.pi
    pts.append(pymupdf.Point(x + 6, y0 - 1.2 * len(letters) - 3))
    shape = page.new_shape()
    for i in range(len(pts) - 1):
        p0, p1, p2, p3 = pts[max(i - 1, 0)], pts[i], pts[i + 1], pts[min(i + 2, len(pts) - 1)]
        shape.draw_bezier(p1, p1 + (p2 - p0) / 6, p2 - (p3 - p1) / 6, p2)
    end = pts[-1]
    shape.draw_bezier(end, end + (20, -8), (x0 + 40, y0 + 16), (x0 - 6, y0 + 3))
    shape.finish(color=INK_BLUE, width=1.2, closePath=False, lineCap=1, lineJoin=1)
    shape.commit()


def form_stamp_signature(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    put(page, 50, 60, "Northwind Commercial Bank", 16, "hebo", NAVY)
    put(page, 50, 84, "Account Opening Request - Form NCB-F12", 13, "hebo")
    put(page, 50, 100, "Please complete in block capitals. Fields marked * are required.", 9, color=GREY)
    # Labelled boxes holding typed-in values (Courier, as from a typewriter or a form filler).
    fields = [("Full name *", "AMARA J. WESTBROOK"), ("Date of birth *", "09/11/1987"),
              ("Address *", "41 CLOVERDALE ROAD, EASTMERE EM5 2LP"), ("Phone", "+00 20 5550 0198"),
              ("Email", "a.westbrook@example.com"), ("Occupation", "MARINE ENGINEER")]
    for i, (label, value) in enumerate(fields):
        y = 130 + 34 * i
        put(page, 50, y + 15, label)
        page.draw_rect(pymupdf.Rect(160, y, 545, y + 22), color=GREY, width=0.7)
        put(page, 166, y + 15, value, 11, "cour", INK_BLUE)
    groups = [("Account type *", ["Current", "Savings", "Business"], 0), ("Statements", ["Paper", "Electronic"], 1),
              ("Debit card", ["Yes", "No"], 0)]
    for g, (label, options, ticked) in enumerate(groups):
        y = 350 + 28 * g
        put(page, 50, y + 10, label)
        for k, option in enumerate(options):
            box = pymupdf.Rect(160 + 110 * k, y, 172 + 110 * k, y + 12)
            page.draw_rect(box, width=0.8)
            put(page, box.x1 + 6, y + 10, option)
            if k == ticked:  # a pen tick overshooting the box, not a font glyph
                page.draw_polyline([box.tl + (2, 6), box.tl + (5, 10), box.tr + (2, -3)], color=INK_BLUE, width=1.5)
    page.insert_textbox(pymupdf.Rect(50, 440, 545, 480), "I confirm that the information given is true and "
                        "complete, and I agree to the account terms and conditions (edition 2025/1).", fontsize=9.5)
    # Signature and date lines; the ink crosses the line as a real signature does.
    for x, label in [(50, "Signature of applicant"), (330, "Date")]:
        page.draw_line((x, 560), (x + 215, 560), width=0.8)
        put(page, x, 574, label, 9)
    put(page, 340, 552, "12/03/2025", 12, "cour", INK_BLUE)
    signature(page, 80, 556)
    # Bank-use box, overprinted by a blue "received" box stamp and a red round "approved" stamp.
    page.draw_rect(pymupdf.Rect(50, 620, 545, 790), color=NAVY, width=1)
    put(page, 58, 637, "FOR BANK USE ONLY", 9, "hebo", NAVY)
    for i, line in enumerate(["Branch: 041 Eastmere", "Account no.: 0000 7731 52", "Checked by: P. Sandoval"]):
        put(page, 58, 662 + 18 * i, line)
    stamp_box(page, pymupdf.Point(300, 705), [("RECEIVED", -2, 14), ("12 MAR 2025", 15, 10)], 6)
    stamp_round(page, pymupdf.Point(460, 705), 52, "NORTHWIND COMMERCIAL BANK * HEAD OFFICE * ", "APPROVED",
                "12 MAR 2025", -12)
    save(doc, path, "Account opening form", "Form with boxes, checkboxes, stamps and a signature")


SAMPLES = {"invoice_en.pdf": invoice_en, "letter_ar.pdf": letter_ar, "report_multipage.pdf": report_multipage,
           "scan_image_only.pdf": scan_image_only, "rotated_90.pdf": rotated_90,
           "form_stamp_signature.pdf": form_stamp_signature}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "samples")
    args = ap.parse_args()
    cv2.setNumThreads(1)  # small images; no need for a thread pool
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in SAMPLES.items():
        make(args.out / name)


if __name__ == "__main__":
    main()
