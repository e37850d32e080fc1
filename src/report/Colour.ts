/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export const colourFor = (stream: { readonly isTTY?: boolean | undefined }): boolean => {
  const noColor = process.env["NO_COLOR"]
  return stream.isTTY === true && (noColor === undefined || noColor === "")
}
