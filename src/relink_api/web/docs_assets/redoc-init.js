// Renders the document beside this page with ReDoc (a file, not an inline script: the
// page's Content-Security-Policy allows scripts from this origin only).
Redoc.init(
  new URL("openapi.json", document.baseURI).href,
  { hideDownloadButton: false },
  document.getElementById("redoc"),
);
