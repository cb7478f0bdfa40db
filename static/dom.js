/* Building the page's DOM: elements from a tag, attributes and children. */

/**
 * `el("p", {className: "x", text: "Hi"})`: attributes named `on…` become listeners, `text`
 * the text content; false, null and undefined attributes and children are left out.
 */
export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  return appendAll(node, children);
}

export function appendAll(node, children) {
  for (const child of children || []) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** Text only a screen reader hears. */
export function hidden(text) {
  return el("span", { className: "visually-hidden", text });
}
