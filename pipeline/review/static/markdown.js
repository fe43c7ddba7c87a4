// A small markdown renderer for the preview: headings, lists, tables, bold, italics, code, paragraphs.
// Everything is HTML-escaped first: a label is shown, never run.
(function () {
  function esc(s) { return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function inline(s) {
    return esc(s).replace(/`([^`]+)`/g, "<code>$1</code>").replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*]+)\*/g, "$1<em>$2</em>");
  }
  function cells(line) { return line.trim().replace(/^\||\|$/g, "").split("|").map(c => c.trim()); }
  window.renderMarkdown = function (text) {
    const lines = (text || "").split("\n"), out = [];
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      if (/^```/.test(line)) {
        const code = []; i++;
        while (i < lines.length && !/^```/.test(lines[i])) code.push(lines[i++]);
        out.push("<pre><code>" + esc(code.join("\n")) + "</code></pre>"); i++; continue;
      }
      const h = /^(#{1,6})\s+(.*)$/.exec(line);
      if (h) { out.push(`<h${h[1].length} dir="auto">${inline(h[2])}</h${h[1].length}>`); i++; continue; }
      if (/^\s*\|/.test(line)) {
        const rows = [];
        while (i < lines.length && /^\s*\|/.test(lines[i])) rows.push(lines[i++]);
        const body = rows.filter(r => !/^\s*\|?\s*:?-{3,}/.test(r));
        out.push("<table dir=\"auto\">" + body.map((r, n) => "<tr>" + cells(r).map(c =>
          (n === 0 && rows.length > 1 && /-{3,}/.test(rows[1]) ? "<th>" + inline(c) + "</th>" : "<td>" + inline(c) + "</td>")).join("") + "</tr>").join("") + "</table>");
        continue;
      }
      if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
        const ordered = /^\s*\d/.test(line), items = [];
        while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) items.push(lines[i++].replace(/^\s*([-*+]|\d+[.)])\s+/, ""));
        const tag = ordered ? "ol" : "ul";
        out.push(`<${tag} dir="auto">` + items.map(t => "<li>" + inline(t) + "</li>").join("") + `</${tag}>`);
        continue;
      }
      if (!line.trim()) { i++; continue; }
      const para = [];
      while (i < lines.length && lines[i].trim() && !/^(#{1,6}\s|\s*\||```|\s*([-*+]|\d+[.)])\s)/.test(lines[i])) para.push(lines[i++]);
      if (!para.length) para.push(lines[i++]);   // never stall on a line no rule takes
      out.push("<p dir=\"auto\">" + inline(para.join(" ")) + "</p>");
    }
    return out.join("\n");
  };
})();
