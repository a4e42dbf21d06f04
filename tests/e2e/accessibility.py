"""What every page the roles use must be, checked in the browser: each control and each link
that stands on its own at least 44 px tall (WCAG 2.5.5), each text at least 4.5:1 against the
background it is drawn on (WCAG 1.4.3). Used by the phone page's tests and the admin's."""

MIN_TAP_PX = 44
MIN_CONTRAST = 4.5

# Every visible control's height, and every visible text's contrast against the background it
# is drawn on (the nearest ancestor with one; translucent colours laid over white).
PAGE_CHECKS = """([minTap, minContrast]) => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const over = (fg, bg) => {
    const a = fg.length > 3 ? fg[3] : 1;
    return [0, 1, 2].map((i) => fg[i] * a + bg[i] * (1 - a));
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (node) => {
    const layers = [];
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c.length > 3 && c[3] === 0) continue;
      layers.push(c);
      if (c.length < 4 || c[3] === 1) break;
    }
    return layers.reverse().reduce((acc, c) => over(c, acc), [255, 255, 255]);
  };
  const visible = (n) => {
    const box = n.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(n).visibility !== "hidden";
  };
  const small = [];
  for (const n of document.querySelectorAll("button, a[href], input, select, summary, textarea, label:has(input)")) {
    if (!visible(n) || n.closest(".visually-hidden")) continue;
    if (n.matches("input[type=radio], input[type=checkbox]")) continue;  // their label is the target
    const height = n.getBoundingClientRect().height;
    if (height < minTap) small.push(`${n.tagName} “${(n.innerText || n.value || "").trim()}” ${height.toFixed(1)} px`);
  }
  const faint = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !visible(node) || node.closest(".visually-hidden, :disabled")) continue;
    const bg = background(node);
    const fg = over(parse(getComputedStyle(node).color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < minContrast) faint.push(`“${walker.currentNode.textContent.trim().slice(0, 20)}” ${ratio.toFixed(2)}:1`);
  }
  return { small: [...new Set(small)], faint: [...new Set(faint)] };
}"""


def assert_tappable_and_readable(page):
    found = page_problems(page)
    assert found["small"] == [], f"tap targets under {MIN_TAP_PX} px: {found['small']}"
    assert found["faint"] == [], f"text under {MIN_CONTRAST}:1 contrast: {found['faint']}"


def page_problems(page) -> dict[str, list[str]]:
    """{"small": controls under the tap size, "faint": texts under the contrast} of the page
    as it is now."""
    return page.evaluate(PAGE_CHECKS, [MIN_TAP_PX, MIN_CONTRAST])
