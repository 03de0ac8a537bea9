// Injected into a copy of the Snakemake report by tests/workflow/test_report.py and run in
// headless Chromium (--dump-dom). Part HOOK goes first in <head>, before the report's own
// scripts, so that it records every console error and warning, uncaught error, failed
// resource and unhandled promise rejection. Part CHECK goes last in <body>: once the
// report's app has rendered, it shows every figure through the app itself (as its eye
// button does), waits until the browser has loaded each image and measures the pixels it
// decoded, reads every table through its embedded data URI, and writes what it found as
// JSON into <pre id="report-check">.

// ---- HOOK
window.__check = { errors: [], warnings: [] };
(function () {
    const text = (args) => args.map((a) => (a instanceof Error ? a.stack || a.message : String(a))).join(" ");
    const error = console.error.bind(console);
    const warn = console.warn.bind(console);
    console.error = (...args) => { window.__check.errors.push(text(args)); error(...args); };
    console.warn = (...args) => { window.__check.warnings.push(text(args)); warn(...args); };
    window.addEventListener("error", (ev) => {
        const what = ev.target && ev.target !== window
            ? `failed to load <${ev.target.tagName}> ${String(ev.target.src || ev.target.href).slice(0, 60)}`
            : `uncaught ${ev.message} (${ev.filename}:${ev.lineno})`;
        window.__check.errors.push(what);
    }, true);
    window.addEventListener("unhandledrejection", (ev) => {
        window.__check.errors.push(`unhandled rejection: ${ev.reason}`);
    });
})();

// ---- CHECK
(async function () {
    const check = window.__check;
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const until = async (test, tries = 200) => {
        for (let i = 0; i < tries; i++) {
            const value = test();
            if (value) return value;
            await sleep(25);
        }
        return null;
    };
    // the mean of each channel over every pixel the browser decoded (drawn on a canvas): a
    // truncated or corrupt image shows its size from the header but not its pixels
    const meanRGBA = (img) => {
        const canvas = document.createElement("canvas");
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const ctx = canvas.getContext("2d", { willReadFrequently: true });
        ctx.drawImage(img, 0, 0);
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        const sums = [0, 0, 0, 0];
        for (let i = 0; i < px.length; i++) sums[i % 4] += px[i];
        return sums.map((s) => s / (px.length / 4));
    };
    check.images = {};
    check.tables = {};
    check.captions = {};
    try {
        const nav = await until(() => document.querySelector("#app nav"));
        check.rendered = Boolean(nav);
        check.nav_text = nav ? nav.innerText : "";
        for (const [path, entry] of Object.entries(results)) {
            check.captions[path] = (entry.caption || "").length;
            const mime = getResultMimeType(path);
            if (mime.startsWith("image/")) {
                // what the result's eye button does: the app shows the image in its content pane
                app.setView({ content: "img", contentPath: entry.data_uri, resultPath: path });
                const img = await until(() =>
                    [...document.querySelectorAll("#app img")].find((i) => i.src === entry.data_uri));
                if (!img) {
                    check.images[path] = { shown: false };
                    continue;
                }
                // wait for the load (a resource fetch, which holds Chromium's virtual time; an
                // await of img.decode() would not, and the page would be dumped before it ends)
                const complete = (await until(() => img.complete, 2000)) !== null;
                check.images[path] = {
                    shown: true, complete, mime, width: img.naturalWidth, height: img.naturalHeight,
                    mean_rgba: complete && img.naturalWidth ? meanRGBA(img) : null,
                };
            } else {
                // a table is offered as a download of its data URI: read it as the browser would
                const response = await fetch(entry.data_uri);
                const body = await response.text();
                check.tables[path] = {
                    mime, ok: response.ok, bytes: body.length,
                    lines: body.split("\n").filter((l) => l.length > 0).length,
                    header: body.split("\n")[0],
                };
            }
        }
        check.done = true;
    } catch (err) {
        check.errors.push(`report check failed: ${err && err.stack ? err.stack : err}`);
    }
    const out = document.createElement("pre");
    out.id = "report-check";
    out.textContent = JSON.stringify(check);
    document.body.appendChild(out);
})();
