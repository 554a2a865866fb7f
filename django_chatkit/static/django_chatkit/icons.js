// Icons for widgets, the composer and status lines: small 24x24 stroke drawings for
// ChatKit's named icon set. Names without a drawing (vendor:, lucide:, unknown) get a
// neutral dot so layouts keep their shape.

const P = {
  agent: "M12 3v3M8 7h8a3 3 0 0 1 3 3v6a3 3 0 0 1-3 3H8a3 3 0 0 1-3-3v-6a3 3 0 0 1 3-3zM9.5 12h.01M14.5 12h.01M9 16h6",
  analytics: "M4 20V10M10 20V4M16 20v-7M22 20H2",
  atom: "M12 12h.01M4.9 4.9c2.3-2.3 7.9.1 12.2 4.4s6.7 9.9 4.4 12.2-7.9-.1-12.2-4.4S2.6 7.2 4.9 4.9zM19.1 4.9c2.3 2.3-.1 7.9-4.4 12.2S4.8 23.8 2.5 21.5",
  batch: "M4 6h16M4 12h16M4 18h16",
  bolt: "M13 2 4 14h7l-1 8 9-12h-7z",
  "book-open": "M2 4h7a3 3 0 0 1 3 3v13a2 2 0 0 0-2-2H2zM22 4h-7a3 3 0 0 0-3 3v13a2 2 0 0 1 2-2h8z",
  "book-closed": "M4 19.5A2.5 2.5 0 0 1 6.5 17H20V3H6.5A2.5 2.5 0 0 0 4 5.5zM4 19.5A2.5 2.5 0 0 0 6.5 22H20v-5",
  "book-clock": "M4 19.5A2.5 2.5 0 0 1 6.5 17H20V3H6.5A2.5 2.5 0 0 0 4 5.5zM12 7v3l2 1",
  bug: "M8 8a4 4 0 0 1 8 0v8a4 4 0 0 1-8 0zM3 12h5M16 12h5M4 6l4 3M20 6l-4 3M4 19l4-3M20 19l-4-3",
  calendar: "M3 5h18v16H3zM16 3v4M8 3v4M3 10h18",
  chart: "M3 3v18h18M7 15l4-4 3 3 5-6",
  check: "M20 6 9 17l-5-5",
  "check-circle": "M22 12a10 10 0 1 1-20 0 10 10 0 0 1 20 0zM8 12l3 3 5-6",
  "check-circle-filled": "M22 12a10 10 0 1 1-20 0 10 10 0 0 1 20 0zM8 12l3 3 5-6",
  "chevron-left": "m15 18-6-6 6-6",
  "chevron-right": "m9 18 6-6-6-6",
  "circle-question": "M22 12a10 10 0 1 1-20 0 10 10 0 0 1 20 0zM9.1 9a3 3 0 0 1 5.8 1c0 2-3 3-3 3M12 17h.01",
  clock: "M22 12a10 10 0 1 1-20 0 10 10 0 0 1 20 0zM12 6v6l4 2",
  compass: "M22 12a10 10 0 1 1-20 0 10 10 0 0 1 20 0zM16 8l-2 6-6 2 2-6z",
  confetti: "M4 20 9 8l7 7zM14 4l1 2M19 9l2-1M17 3l-1 3M20 14l-3-1",
  cube: "M21 16V8l-9-5-9 5v8l9 5zM3.3 7 12 12l8.7-5M12 22V12",
  desktop: "M2 4h20v12H2zM8 20h8M12 16v4",
  document: "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6M8 13h8M8 17h8",
  dot: "M12 12h.01",
  "dots-horizontal": "M5 12h.01M12 12h.01M19 12h.01",
  "dots-vertical": "M12 5h.01M12 12h.01M12 19h.01",
  "empty-circle": "M22 12a10 10 0 1 1-20 0 10 10 0 0 1 20 0z",
  "external-link": "M15 3h6v6M10 14 21 3M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6",
  globe: "M22 12a10 10 0 1 1-20 0 10 10 0 0 1 20 0zM2 12h20M12 2a15 15 0 0 1 0 20 15 15 0 0 1 0-20z",
  keys: "M15 7a4 4 0 1 1-4 4l-8 8v3h3l8-8M15 7h.01",
  lab: "M9 2h6M10 2v7L4 20h16L14 9V2",
  images: "M3 5h14v14H3zM7 3h14v14M3 15l4-4 4 4 3-3 3 3",
  info: "M22 12a10 10 0 1 1-20 0 10 10 0 0 1 20 0zM12 16v-4M12 8h.01",
  lifesaver: "M22 12a10 10 0 1 1-20 0 10 10 0 0 1 20 0zM16 12a4 4 0 1 1-8 0 4 4 0 0 1 8 0zM5 5l4 4M15 15l4 4M19 5l-4 4M9 15l-4 4",
  lightbulb: "M9 18h6M10 22h4M12 2a7 7 0 0 0-4 12.7V16h8v-1.3A7 7 0 0 0 12 2z",
  mail: "M3 5h18v14H3zM3 7l9 6 9-6",
  "map-pin": "M12 22s7-6.2 7-12a7 7 0 0 0-14 0c0 5.8 7 12 7 12zM12 12.5a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5z",
  maps: "M9 4 3 6v14l6-2 6 2 6-2V4l-6 2zM9 4v14M15 6v14",
  mobile: "M7 2h10v20H7zM11 18h2",
  name: "M3 5h18v14H3zM7 10h6M7 14h10",
  notebook: "M5 3h14v18H5zM9 3v18M12 8h4M12 12h4",
  "notebook-pencil": "M5 3h14v18H5zM9 3v18M16 8l-4 4-1 2 2-1 4-4",
  "page-blank": "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6",
  phone: "M22 16.9v3a2 2 0 0 1-2.2 2A19.8 19.8 0 0 1 2 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7l.5 3a2 2 0 0 1-.6 1.8L7.6 9.9a16 16 0 0 0 6.5 6.5l1.4-1.4a2 2 0 0 1 1.8-.6l3 .5a2 2 0 0 1 1.7 2z",
  play: "M6 3l14 9-14 9z",
  plus: "M12 5v14M5 12h14",
  profile: "M20 21a8 8 0 0 0-16 0M12 13a5 5 0 1 0 0-10 5 5 0 0 0 0 10z",
  "profile-card": "M3 4h18v16H3zM9 12a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5zM5 17a4 4 0 0 1 8 0M15 9h3M15 13h3",
  reload: "M21 12a9 9 0 1 1-3-6.7L21 8M21 3v5h-5",
  star: "M12 2l3.1 6.3 6.9 1-5 4.9 1.2 6.8L12 17.8 5.8 21l1.2-6.8-5-4.9 6.9-1z",
  "star-filled": "M12 2l3.1 6.3 6.9 1-5 4.9 1.2 6.8L12 17.8 5.8 21l1.2-6.8-5-4.9 6.9-1z",
  search: "M11 19a8 8 0 1 0 0-16 8 8 0 0 0 0 16zM21 21l-4.3-4.3",
  sparkle: "M12 3l1.9 5.8L20 12l-6.1 3.2L12 21l-1.9-5.8L4 12l6.1-3.2z",
  "sparkle-double": "M10 4l1.5 4.5L16 10l-4.5 1.5L10 16l-1.5-4.5L4 10l4.5-1.5zM18 14l.8 2.2L21 17l-2.2.8L18 20l-.8-2.2L15 17l2.2-.8z",
  "square-code": "M3 3h18v18H3zM10 9l-3 3 3 3M14 9l3 3-3 3",
  "square-image": "M3 3h18v18H3zM9 10a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zM21 15l-5-5L5 21",
  "square-text": "M3 3h18v18H3zM7 8h10M7 12h10M7 16h6",
  suitcase: "M3 7h18v13H3zM8 7V4h8v3M3 13h18",
  "settings-slider": "M4 6h10M18 6h2M4 12h4M12 12h8M4 18h12M20 18h0M14 4v4M8 10v4M16 16v4",
  user: "M20 21a8 8 0 0 0-16 0M12 13a5 5 0 1 0 0-10 5 5 0 0 0 0 10z",
  wreath: "M7 20a9 9 0 0 1 0-16M17 20a9 9 0 0 0 0-16M9 21h6",
  write: "M12 20h9M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z",
  "write-alt": "M4 20h16M14 4l4 4-9 9H5v-4z",
  "write-alt2": "M3 21h18M6 17l1-4 10-10 3 3-10 10z",
  "thumbs-up": "M7 10v11H3V10zM7 10l4-8a3 3 0 0 1 3 3v4h6a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.6 21H7",
  "thumbs-down": "M17 14V3h4v11zM17 14l-4 8a3 3 0 0 1-3-3v-4H4a2 2 0 0 1-2-2.3l1.4-8A2 2 0 0 1 5.4 3H17",
  stop: "M6 6h12v12H6z",
  send: "M22 2 11 13M22 2l-7 20-4-9-9-4z",
  trash: "M3 6h18M8 6V4h8v2M6 6l1 15h10l1-15",
  close: "M18 6 6 18M6 6l12 12",
  // The chat view's own controls.
  "arrow-up": "M12 19V5M5 12l7-7 7 7",
  copy: "M9 9h11v11H9zM5 15H4V4h11v1",
  history: "M3 12a9 9 0 1 0 3-6.7L3 8M3 3v5h5M12 7v5l3 2",
  sidebar: "M3 4h18v16H3zM9 4v16",
  paperclip: "M21 12.5l-8.5 8.5a5 5 0 0 1-7-7l9-9a3.5 3.5 0 0 1 5 5l-9 9a2 2 0 0 1-3-3l8-8",
};
const FILLED = new Set(["check-circle-filled", "star-filled", "stop", "play"]);
const SIZES = { xs: 12, sm: 14, md: 16, lg: 20, xl: 24, "2xl": 28, "3xl": 32 };

/** An inline SVG for icon `name`, decorative (aria-hidden); the name is kept in data-icon. */
export function iconElement(name, size) {
  const ns = "http://www.w3.org/2000/svg";
  const el = document.createElementNS(ns, "svg");
  el.setAttribute("viewBox", "0 0 24 24");
  el.setAttribute("aria-hidden", "true");
  el.setAttribute("focusable", "false");
  el.setAttribute("class", "ck-icon-svg");
  el.dataset.icon = String(name ?? "");
  const px = SIZES[size];
  if (px) {
    el.setAttribute("width", px);
    el.setAttribute("height", px);
  }
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", P[name] || P.dot);
  path.setAttribute("fill", FILLED.has(name) ? "currentColor" : "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", P[name] ? "2" : "6");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  el.append(path);
  return el;
}

export const ICON_NAMES = Object.keys(P);
