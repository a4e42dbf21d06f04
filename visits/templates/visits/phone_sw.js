/* Service worker of the visits phone page: the page and its files come from the network when
   there is one (and are kept), and from the kept copy when there is none, so the page opens
   offline. Visits themselves are queued by the page, not here. */
"use strict";

const CACHE = "visits-phone-v1";
const PAGE = "{{ page_url|escapejs }}";
const ASSETS = [{% for asset in assets %}"{{ asset|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];

async function keep(cache, key, response) {
  if (response.ok && !response.redirected && response.type === "basic") {
    await cache.put(key, response.clone());
  }
  return response;
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await Promise.all(
        [PAGE, ...ASSETS].map((url) =>
          fetch(url, { credentials: "same-origin", cache: "no-cache" })
            .then((response) => keep(cache, url, response))
            .catch(() => null)
        )
      );
      await self.skipWaiting();
    })()
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name !== CACHE && name.startsWith("visits-phone-")) await caches.delete(name);
      }
      await self.clients.claim();
    })()
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  let key = null;
  if (request.mode === "navigate" && url.pathname === PAGE) key = PAGE;
  else if (ASSETS.includes(url.pathname)) key = url.pathname;
  if (key === null) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        return await keep(cache, key, await fetch(request));
      } catch (error) {
        const kept = await cache.match(key);
        if (kept) return kept;
        throw error;
      }
    })()
  );
});
