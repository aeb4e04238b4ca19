/** Just enough XML writing for AWS query-protocol responses: elements, escaping, optional fields. */

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A scalar is escaped; an array holds already-rendered child elements. */
export function element(name: string, content: string | number | boolean | string[]): string {
  const inner = Array.isArray(content) ? content.join('') : escapeXml(String(content));
  return `<${name}>${inner}</${name}>`;
}

/** Omits the element entirely when the value is absent, as AWS does. */
export function optionalElement(name: string, content: string | number | boolean | undefined): string {
  return content === undefined ? '' : element(name, content);
}
