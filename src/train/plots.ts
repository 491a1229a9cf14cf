/**
 * Small hand-written SVG charts: training/validation curves per epoch (the papers' Figures 1–2
 * and 11–18) and a confusion-matrix heat map. No plotting dependency; readable in any browser.
 */
const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export interface Series {
  name: string;
  values: number[];
  color: string;
}

export function lineChartSvg(title: string, yLabel: string, series: Series[]): string {
  const W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  let lo = Math.min(...all, 0), hi = Math.max(...all, 1e-9);
  if (hi - lo < 1e-9) hi = lo + 1;
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const x = (i: number): number => L + ((W - L - R) * i) / Math.max(1, n - 1);
  const y = (v: number): number => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">epoch</text>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">${esc(yLabel)}</text>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const v = lo + ((hi - lo) * k) / 5;
    parts.push(`<line x1="${L - 4}" y1="${y(v)}" x2="${W - R}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  const ticks = Math.min(n, 10);
  for (let k = 0; k < ticks; k++) {
    const i = Math.round(((n - 1) * k) / Math.max(1, ticks - 1));
    parts.push(`<text x="${x(i)}" y="${H - B + 16}" text-anchor="middle">${i + 1}</text>`);
  }
  series.forEach((s, si) => {
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts}"/>`);
    parts.push(`<rect x="${W - R - 150}" y="${T + 6 + si * 18}" width="12" height="12" fill="${s.color}"/>`);
    parts.push(`<text x="${W - R - 132}" y="${T + 16 + si * 18}">${esc(s.name)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

export function confusionSvg(title: string, labels: string[], matrix: number[][]): string {
  const K = labels.length;
  const cell = 56, L = 100, T = 70;
  const W = L + K * cell + 20, H = T + K * cell + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<text x="${L + (K * cell) / 2}" y="${T - 30}" text-anchor="middle">predicted</text>`,
    `<text x="14" y="${T + (K * cell) / 2}" text-anchor="middle" transform="rotate(-90 14 ${T + (K * cell) / 2})">true</text>`,
  ];
  matrix.forEach((row, i) => {
    const total = Math.max(1, row.reduce((a, b) => a + b, 0));
    row.forEach((v, j) => {
      const share = v / total;
      const shade = Math.round(255 - 200 * share);
      parts.push(`<rect x="${L + j * cell}" y="${T + i * cell}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#999"/>`);
      parts.push(`<text x="${L + j * cell + cell / 2}" y="${T + i * cell + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.5 ? "white" : "black"}">${v}</text>`);
    });
    parts.push(`<text x="${L - 6}" y="${T + i * cell + cell / 2 + 4}" text-anchor="end">${esc(labels[i]!)}</text>`);
  });
  labels.forEach((l, j) => parts.push(`<text x="${L + j * cell + cell / 2}" y="${T - 8}" text-anchor="middle">${esc(l.slice(0, 8))}</text>`));
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
