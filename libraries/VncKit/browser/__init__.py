"""A session's desktop in a real browser: headless Chromium running noVNC on a viewer page the kit serves.

- :mod:`VncKit.browser.pages`    -- the viewer page and Debian's noVNC, served on loopback by a thread
- :mod:`VncKit.browser.chromium` -- Debian's Chromium and chromedriver, started in a process group of their own
- :mod:`VncKit.browser.desktop`  -- one browser showing one desktop: connect, pixels, input, screenshots
- :mod:`VncKit.browser.echo`     -- typed text coming back as text, read from the browser's canvas
"""
