"""Build the deck templates reproducibly from python-pptx's default template.

    python scripts/build_deck_template.py            # templates/kam_template.pptx
    python scripts/build_deck_template.py --alt      # tests/data/alt_template.pptx

The deck builder (kam_analysis/deliverables/deck.py) looks slide layouts and their
placeholders up by NAME. A firm that wants its own branding makes a template with the
same layout names and placeholder names and points ``branding.template`` at it:

=================  =====================================================
layout             placeholders (by name)
=================  =====================================================
Title              Title, Subtitle, Date
Section            Kicker, Title, Body
Title and Content  Title, Body, Source
Two Content        Title, Left, Right, Source
Chart              Title, Chart, Takeaway, Source
Table              Title, Table, Source
Key Numbers        Title, Numbers, Body, Source
=================  =====================================================

Every content layout also carries a slide-number placeholder, which the builder copies
onto each slide. Missing placeholders are tolerated: the builder falls back to the area
between the title and the bottom margin.

The script starts from python-pptx's default template (so it needs nothing but
python-pptx), makes it 16:9, rewrites the master's text styles and theme (fonts,
colours), and replaces each kept layout's shapes with the placeholders above.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from pptx import Presentation
from pptx.util import Emu, Inches

REPO = Path(__file__).resolve().parents[1]
NS = {"a": "http://schemas.openxmlformats.org/drawingml/2006/main",
      "p": "http://schemas.openxmlformats.org/presentationml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
A = "{%s}" % NS["a"]
P = "{%s}" % NS["p"]


@dataclass
class Look:
    """Everything that differs between two templates."""

    name: str
    font_major: str
    font_minor: str
    primary: str        # dark brand colour (theme dk2/accent1)
    accent: str         # second brand colour (theme accent2)
    text: str           # body text colour
    muted: str          # source lines, slide numbers
    title_size: int     # content-slide title size, pt
    band_title: bool    # content slides: title on a coloured top band (alt) or on white with a rule (main)
    chart_left: bool    # chart on the left, takeaway on the right (main) or the reverse (alt)


MAIN = Look("KAM Advisory", "Calibri", "Calibri", "0B2545", "13A89E", "1F2933", "6B7280", 24, False, True)
ALT = Look("Alt Firm", "Liberation Serif", "Liberation Sans", "4A1942", "C8963E", "222222", "777777", 22, True, False)

W, H = Inches(13.333), Inches(7.5)


def _xfrm(x, y, w, h) -> str:
    return (f'<a:xfrm><a:off x="{int(x)}" y="{int(y)}"/><a:ext cx="{int(w)}" cy="{int(h)}"/></a:xfrm>')


def _placeholder(sid: int, name: str, ph: str, box, *, size: int, color: str, bold: bool = False,
                 anchor: str = "t", align: str = "l", prompt: str = "", bullets: bool = False,
                 fill: str | None = None, font: str = "+mn-lt", inset: float = 0.0) -> str:
    """One layout placeholder as XML: position, text style and prompt text."""
    b = ' b="1"' if bold else ' b="0"'
    bu = "" if bullets else "<a:buNone/>"
    mar = ' marL="0" indent="0"' if not bullets else ' marL="228600" indent="-228600"'
    fill_xml = f'<a:solidFill><a:srgbClr val="{fill}"/></a:solidFill>' if fill else "<a:noFill/>"
    ins = int(Inches(inset))
    return f"""
<p:sp xmlns:p="{NS['p']}" xmlns:a="{NS['a']}">
  <p:nvSpPr><p:cNvPr id="{sid}" name="{name}"/><p:cNvSpPr><a:spLocks noGrp="1"/></p:cNvSpPr>
    <p:nvPr>{ph}</p:nvPr></p:nvSpPr>
  <p:spPr>{_xfrm(*box)}{fill_xml}</p:spPr>
  <p:txBody>
    <a:bodyPr vert="horz" wrap="square" lIns="{ins}" tIns="{ins}" rIns="{ins}" bIns="{ins}" anchor="{anchor}"><a:noAutofit/></a:bodyPr>
    <a:lstStyle><a:lvl1pPr{mar} algn="{align}">{bu}<a:defRPr sz="{size * 100}"{b}>
      <a:solidFill><a:srgbClr val="{color}"/></a:solidFill><a:latin typeface="{font}"/></a:defRPr></a:lvl1pPr></a:lstStyle>
    <a:p><a:r><a:rPr lang="en-GB"/><a:t>{prompt or name}</a:t></a:r></a:p>
  </p:txBody>
</p:sp>"""


def _rect(sid: int, name: str, box, color: str) -> str:
    return f"""
<p:sp xmlns:p="{NS['p']}" xmlns:a="{NS['a']}">
  <p:nvSpPr><p:cNvPr id="{sid}" name="{name}"/><p:cNvSpPr/><p:nvPr userDrawn="1"/></p:nvSpPr>
  <p:spPr>{_xfrm(*box)}<a:prstGeom prst="rect"><a:avLst/></a:prstGeom>
    <a:solidFill><a:srgbClr val="{color}"/></a:solidFill><a:ln><a:noFill/></a:ln></p:spPr>
  <p:txBody><a:bodyPr/><a:lstStyle/><a:p><a:endParaRPr lang="en-GB"/></a:p></p:txBody>
</p:sp>"""


def _slide_number(sid: int, box, look: Look) -> str:
    return f"""
<p:sp xmlns:p="{NS['p']}" xmlns:a="{NS['a']}">
  <p:nvSpPr><p:cNvPr id="{sid}" name="Slide Number"/><p:cNvSpPr><a:spLocks noGrp="1"/></p:cNvSpPr>
    <p:nvPr><p:ph type="sldNum" sz="quarter" idx="12"/></p:nvPr></p:nvSpPr>
  <p:spPr>{_xfrm(*box)}</p:spPr>
  <p:txBody><a:bodyPr lIns="0" tIns="0" rIns="0" bIns="0" anchor="ctr"/><a:lstStyle><a:lvl1pPr algn="r"><a:defRPr sz="900">
    <a:solidFill><a:srgbClr val="{look.muted}"/></a:solidFill></a:defRPr></a:lvl1pPr></a:lstStyle>
    <a:p><a:fld id="{{B6F15528-21DE-4FAA-801E-634DDDAF4B2B}}" type="slidenum"><a:rPr lang="en-GB"/><a:t>‹#›</a:t></a:fld></a:p></p:txBody>
</p:sp>"""


def _layouts(look: Look) -> dict[str, list[str]]:
    """Layout name -> shape XML, in the order the layouts appear."""
    i = Inches
    mx = i(0.6)
    cw = W - 2 * mx
    muted, prim = look.muted, look.primary
    if look.band_title:
        title_box = (mx, i(0.2), cw, i(0.9))
        title_color, top = "FFFFFF", i(1.45)
        chrome = [_rect(90, "Title Band", (0, 0, W, i(1.25)), prim),
                  _rect(91, "Band Accent", (0, i(1.25), W, i(0.05)), look.accent)]
    else:
        title_box = (mx, i(0.3), cw, i(1.0))
        title_color, top = prim, i(1.6)
        chrome = [_rect(90, "Title Rule", (mx, i(1.38), cw, Emu(12700)), look.accent)]
    bottom = i(6.55)
    ch = bottom - top
    source_box = (mx, i(6.7), cw - i(1.2), i(0.5))
    num_box = (W - mx - i(0.8), i(6.85), i(0.8), i(0.3))
    title = _placeholder(2, "Title", '<p:ph type="title"/>', title_box, size=look.title_size, color=title_color,
                         anchor="b" if not look.band_title else "ctr", font="+mj-lt")
    source = _placeholder(9, "Source", '<p:ph type="body" sz="quarter" idx="19"/>', source_box, size=9,
                          color=muted, anchor="b", prompt="Source")
    number = _slide_number(10, num_box, look)

    def content(*shapes: str) -> list[str]:
        return [*chrome, title, *shapes, source, number]

    gap = i(0.35)
    half = (cw - gap) // 2
    side = i(3.4)
    chart_w = cw - side - gap
    chart_x, side_x = (mx, mx + chart_w + gap) if look.chart_left else (mx + side + gap, mx)
    body_size = 16
    out: dict[str, list[str]] = {}
    if look.band_title:
        title_slide = [
            _rect(90, "Side Stripe", (0, 0, i(0.35), H), prim),
            _rect(91, "Accent Stripe", (i(0.35), 0, i(0.08), H), look.accent),
            _placeholder(2, "Title", '<p:ph type="ctrTitle"/>', (i(1.2), i(2.0), i(10.8), i(1.9)), size=40,
                         color=prim, anchor="b", font="+mj-lt"),
            _placeholder(3, "Subtitle", '<p:ph type="subTitle" idx="1"/>', (i(1.2), i(4.1), i(10.8), i(0.9)),
                         size=20, color=look.text),
            _placeholder(4, "Date", '<p:ph type="body" sz="quarter" idx="13"/>', (i(1.2), i(5.3), i(10.8), i(0.5)),
                         size=14, color=muted),
        ]
        section = [
            _rect(90, "Top Band", (0, 0, W, i(2.2)), prim),
            _placeholder(5, "Kicker", '<p:ph type="body" sz="quarter" idx="14"/>', (mx, i(0.5), i(3), i(1.3)),
                         size=54, color="FFFFFF", bold=True, anchor="b", font="+mj-lt"),
            _placeholder(2, "Title", '<p:ph type="title"/>', (mx, i(2.7), cw, i(1.2)), size=34, color=prim,
                         font="+mj-lt"),
            _placeholder(3, "Body", '<p:ph type="body" idx="1"/>', (mx, i(4.0), cw, i(2.2)), size=16,
                         color=look.text),
        ]
    else:
        title_slide = [
            _rect(90, "Background", (0, 0, W, H), prim),
            _rect(91, "Accent Bar", (i(0.9), i(2.05), i(1.2), i(0.08)), look.accent),
            _placeholder(2, "Title", '<p:ph type="ctrTitle"/>', (i(0.9), i(2.25), i(11.2), i(1.7)), size=40,
                         color="FFFFFF", anchor="t", font="+mj-lt"),
            _placeholder(3, "Subtitle", '<p:ph type="subTitle" idx="1"/>', (i(0.9), i(4.1), i(11.2), i(0.9)),
                         size=20, color="C9D6E3"),
            _placeholder(4, "Date", '<p:ph type="body" sz="quarter" idx="13"/>', (i(0.9), i(5.6), i(11.2), i(0.5)),
                         size=14, color="C9D6E3"),
        ]
        section = [
            _rect(90, "Side Panel", (0, 0, i(4.3), H), prim),
            _placeholder(5, "Kicker", '<p:ph type="body" sz="quarter" idx="14"/>', (mx, i(2.5), i(3.2), i(1.5)),
                         size=66, color="FFFFFF", bold=True, anchor="b", font="+mj-lt"),
            _placeholder(2, "Title", '<p:ph type="title"/>', (i(5.0), i(2.5), i(7.7), i(1.5)), size=34, color=prim,
                         anchor="b", font="+mj-lt"),
            _rect(91, "Section Rule", (i(5.0), i(4.15), i(1.2), i(0.06)), look.accent),
            _placeholder(3, "Body", '<p:ph type="body" idx="1"/>', (i(5.0), i(4.4), i(7.7), i(2.2)), size=16,
                         color=look.text),
        ]
    out["Title"] = title_slide
    out["Section"] = section
    out["Title and Content"] = content(
        _placeholder(3, "Body", '<p:ph idx="1"/>', (mx, top, cw, ch), size=body_size, color=look.text, bullets=True))
    out["Two Content"] = content(
        _placeholder(3, "Left", '<p:ph sz="half" idx="1"/>', (mx, top, half, ch), size=body_size, color=look.text,
                     bullets=True),
        _placeholder(4, "Right", '<p:ph sz="half" idx="2"/>', (mx + half + gap, top, half, ch), size=body_size,
                     color=look.text, bullets=True))
    out["Chart"] = content(
        _placeholder(3, "Chart", '<p:ph type="chart" sz="half" idx="15"/>', (chart_x, top, chart_w, ch), size=12,
                     color=muted),
        _placeholder(4, "Takeaway", '<p:ph type="body" sz="quarter" idx="16"/>', (side_x, top, side, ch), size=14,
                     color=look.text, fill="F3F4F6" if look.chart_left else "FBF7F0", inset=0.18))
    out["Table"] = content(
        _placeholder(3, "Table", '<p:ph type="tbl" idx="17"/>', (mx, top, cw, ch), size=12, color=muted))
    out["Key Numbers"] = content(
        _placeholder(3, "Numbers", '<p:ph type="body" sz="quarter" idx="18"/>', (mx, top + i(0.1), cw, i(2.3)),
                     size=12, color=muted),
        _placeholder(4, "Body", '<p:ph idx="1"/>', (mx, top + i(2.7), cw, ch - i(2.7)), size=body_size,
                     color=look.text, bullets=True))
    return out


def _set_theme(prs, look: Look) -> None:
    master = prs.slide_master
    theme_part = next(r.target_part for r in master.part.rels.values() if r.reltype.endswith("/theme"))
    root = etree.fromstring(theme_part.blob)
    root.set("name", look.name)
    cs = root.find(".//a:clrScheme", NS)
    cs.set("name", look.name)
    for tag, val in (("dk2", look.primary), ("accent1", look.primary), ("accent2", look.accent),
                     ("accent3", "8DA9C4"), ("accent4", "EEB902"), ("accent5", "C0392B"), ("accent6", "5D6D7E")):
        el = cs.find(f"a:{tag}", NS)
        for child in list(el):
            el.remove(child)
        etree.SubElement(el, A + "srgbClr", val=val)
    fs = root.find(".//a:fontScheme", NS)
    fs.set("name", look.name)
    fs.find("a:majorFont/a:latin", NS).set("typeface", look.font_major)
    fs.find("a:minorFont/a:latin", NS).set("typeface", look.font_minor)
    theme_part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _set_master(prs, look: Look) -> None:
    master = prs.slide_master
    el = master.element
    ts = el.find("p:txStyles", NS)
    t1 = ts.find("p:titleStyle/a:lvl1pPr", NS)
    t1.set("algn", "l")
    rpr = t1.find("a:defRPr", NS)
    rpr.set("sz", str(look.title_size * 100))
    rpr.find("a:solidFill/a:schemeClr", NS).set("val", "tx2")
    sizes = [1600, 1400, 1200, 1200, 1200]
    for lvl, sz in enumerate(sizes, 1):
        p = ts.find(f"p:bodyStyle/a:lvl{lvl}pPr", NS)
        p.find("a:defRPr", NS).set("sz", str(sz))
        spc = p.find("a:spcBef/a:spcPct", NS)
        if spc is not None:
            spc.getparent().remove(spc)
            etree.SubElement(p.find("a:spcBef", NS), A + "spcPts", val="600")
    # master placeholders: same geometry as the content layouts
    boxes = {"title": (Inches(0.6), Inches(0.3), W - Inches(1.2), Inches(1.0)),
             "body": (Inches(0.6), Inches(1.6), W - Inches(1.2), Inches(4.95)),
             "dt": (Inches(0.6), Inches(6.9), Inches(2), Inches(0.3)),
             "ftr": (Inches(4.5), Inches(6.9), Inches(4.3), Inches(0.3)),
             "sldNum": (W - Inches(1.4), Inches(6.85), Inches(0.8), Inches(0.3))}
    for sp in el.iterfind(".//p:sp", NS):
        ph = sp.find(".//p:ph", NS)
        if ph is None:
            continue
        box = boxes.get(ph.get("type"))
        if box is None:
            continue
        sppr = sp.find("p:spPr", NS)
        old = sppr.find("a:xfrm", NS)
        if old is not None:
            sppr.remove(old)
        sppr.insert(0, etree.fromstring(f'<a:xfrm xmlns:a="{NS["a"]}"><a:off x="{int(box[0])}" y="{int(box[1])}"/>'
                                        f'<a:ext cx="{int(box[2])}" cy="{int(box[3])}"/></a:xfrm>'))


def _rebuild_layout(layout, name: str, shapes: list[str]) -> None:
    csld = layout.element.find("p:cSld", NS)
    csld.set("name", name)
    tree = csld.find("p:spTree", NS)
    for child in list(tree):
        if child.tag in (P + "sp", P + "pic", P + "graphicFrame", P + "grpSp", P + "cxnSp"):
            tree.remove(child)
    for xml in shapes:
        tree.append(etree.fromstring(xml))
    # the title slide and section divider hide the master's own graphics
    layout.element.set("showMasterSp", "0")


def build_template(look: Look, out: Path) -> Path:
    """Write one template with the seven named layouts."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = W, H
    _set_theme(prs, look)
    _set_master(prs, look)
    specs = _layouts(look)
    layouts = list(prs.slide_layouts)
    for layout, (name, shapes) in zip(layouts, specs.items()):
        _rebuild_layout(layout, name, shapes)
    for layout in layouts[len(specs):]:
        prs.slide_layouts.remove(layout)
    cp = prs.core_properties
    cp.title = f"{look.name} deck template"
    cp.author = look.name
    cp.last_modified_by = look.name
    cp.revision = 1
    import datetime as dt

    cp.created = cp.modified = dt.datetime(2025, 1, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    prs.save(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alt", action="store_true", help="build the alternative test template instead")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    look = ALT if args.alt else MAIN
    out = args.out or (REPO / ("tests/data/alt_template.pptx" if args.alt else "templates/kam_template.pptx"))
    print(build_template(look, out))


if __name__ == "__main__":
    main()
