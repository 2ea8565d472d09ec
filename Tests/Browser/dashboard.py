"""The owner's dashboard in real headless Chromium (Debian's chromium and chromium-driver, driven
with Selenium): log in with the password and a TOTP code, back up now and watch the job finish,
see its row in the history, be refused a restore without the typed RESTORE, restore with it into a
new directory and see the job succeed, and see the size chart on the overview. Screenshots go to
--screenshots. Exit status 0 only when every step was seen; the first step that fails says which.

Run by BrowserTests (Tests/WalvaultIntegrationTests), which starts PostgreSQL 15 and walvault serve,
and afterwards starts the restored copy and waits for it to promote.
"""
import argparse
import hashlib
import hmac
import os
import struct
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait


def totp(secret, step):
    """RFC 6238 (SHA-1, 6 digits) for one 30-second step, as the owner's authenticator app. The
    file holds the key's own characters; the otpauth:// URI gives the app their base32."""
    key = secret.encode()
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1_000_000)


class Steps:
    def __init__(self, args):
        self.args = args
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
            options.add_argument(flag)
        options.add_experimental_option(
            "prefs", {"download.default_directory": args.downloads, "download.prompt_for_download": False})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.wait = WebDriverWait(self.driver, 120)
        self.last_step = -1

    def fresh_code(self):
        """A code the server has not accepted yet: it refuses a step at or before one it took."""
        while True:
            now = int(time.time()) // 30
            step = max(self.last_step + 1, now)
            if step <= now + 1:
                self.last_step = step
                return totp(self.args.totp_secret, step)
            time.sleep(0.5)

    def shot(self, name):
        self.driver.save_screenshot("%s/%s.png" % (self.args.screenshots, name))

    def open(self, path):
        self.driver.get(self.args.url + path)

    def text(self, element_id):
        return self.driver.find_element(By.ID, element_id).text

    def type(self, element_id, value):
        field = self.driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)

    def job_finishes(self, name):
        self.wait.until(ready.url_contains("/jobs/"))
        self.wait.until(lambda d: d.find_element(By.ID, "job-state").text in ("succeeded", "failed", "cancelled", "interrupted"))
        state = self.text("job-state")
        self.shot(name)
        if state != "succeeded":
            raise AssertionError("%s: the job ended %s: %s" % (name, state, self.text("job-error")))
        return self.driver.current_url.rsplit("/", 1)[-1]

    def run(self):
        # 1. Every page sends a stranger to the login page; the owner logs in.
        self.open("/")
        self.wait.until(ready.url_contains("/login"))
        self.type("password", self.args.password)
        self.type("totp", self.fresh_code())
        self.shot("1-login")
        self.driver.find_element(By.ID, "login-button").click()
        self.wait.until(ready.presence_of_element_located((By.ID, "backup-now")))
        print("step 1: logged in")

        # 2. Back up now, and watch the job's progress to its end (server-sent events).
        self.driver.find_element(By.ID, "backup-now").click()
        job = self.job_finishes("2-backup-job")
        if self.driver.find_element(By.ID, "job-progress").get_attribute("value") != "100":
            raise AssertionError("the finished backup's progress bar is not full")
        print("step 2: backup job %s succeeded" % job)

        # 3. The new row in the history, with who started it.
        self.open("/backups?type=database&operation=backup")
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#history-table tbody tr")
        cells = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]
        mine = [c for c in cells if c[2] == "backup" and c[3] == "succeeded" and c[10].startswith("owner (dashboard from")]
        self.shot("3-history")
        if not mine:
            raise AssertionError("no succeeded backup row by the owner in the history: %s" % cells)
        print("step 3: the history shows the backup (%d rows)" % len(mine))
        stored = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
                  for row in self.driver.find_elements(By.CSS_SELECTOR, "#backups-table tbody tr")]
        if not stored or any(row[1] not in ("full", "diff", "incr") for row in stored):
            raise AssertionError("the backups table does not say each backup's type: %s" % stored)
        print("step 3: the backups table gives each backup's type (%s)" % ", ".join(row[1] for row in stored))

        # 3. The files snapshot taken before the browser came: its rows, type storage, one per store.
        self.open("/backups?type=storage")
        rows = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
                for row in self.driver.find_elements(By.CSS_SELECTOR, "#history-table tbody tr")]
        self.shot("3-files-history")
        files = [r for r in rows if r[1] == "storage" and r[2] == "files-backup" and r[3] == "succeeded"
                 and r[4].startswith(self.args.files_tree + "/")]
        if not files or any(r[1] != "storage" for r in rows):
            raise AssertionError("the storage history has no succeeded files-backup row of %s: %s" % (self.args.files_tree, rows))
        print("step 3: the storage history shows files snapshot %s in %s" % (files[0][4], files[0][5]))

        # 4. A restore without the typed confirmation is refused, and starts nothing.
        self.open("/restore")
        self.wait.until(ready.presence_of_element_located((By.ID, "restore-timeline")))
        self.type("restore-target", "latest")
        self.type("restore-pgdata", self.args.pgdata)
        self.type("restore-totp", "000000")
        self.driver.find_element(By.ID, "restore-button").click()
        self.wait.until(lambda d: d.find_element(By.ID, "error").text != "")
        refusal = self.text("error")
        self.shot("4-restore-refused")
        if "RESTORE" not in refusal or "/jobs/" in self.driver.current_url:
            raise AssertionError("the restore without confirmation was not refused as expected: %s" % refusal)
        print("step 4: refused: %s" % refusal)

        # 5. With RESTORE and a new code: the job restores into the new directory.
        self.type("restore-confirmation", "RESTORE")
        self.type("restore-totp", self.fresh_code())
        self.driver.find_element(By.ID, "restore-button").click()
        job = self.job_finishes("5-restore-job")
        steps = self.driver.find_element(By.ID, "switch-over").text
        if self.args.pgdata not in steps:
            raise AssertionError("the job page does not say how to start the restored copy: %s" % steps)
        print("step 5: restore job %s succeeded into %s" % (job, self.args.pgdata))

        # 6. Export a tenant's schema, and download it (checked, through a one-time link).
        self.open("/exports")
        self.type("export-schema", self.args.schema)
        self.driver.find_element(By.ID, "export-button").click()
        self.job_finishes("6-export-job")
        self.open("/exports")
        link = self.wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#exports-table a.download")))
        self.shot("6-exports")
        link.click()
        deadline = time.time() + 60
        saved = []
        while time.time() < deadline:
            saved = [n for n in os.listdir(self.args.downloads) if n.startswith(self.args.schema) and not n.endswith(".crdownload")]
            if saved:
                break
            time.sleep(0.2)
        if not saved:
            raise AssertionError("the export was not downloaded into %s" % self.args.downloads)
        with open(os.path.join(self.args.downloads, saved[0]), "rb") as downloaded:
            if downloaded.read(5) != b"PGDMP":
                raise AssertionError("the downloaded %s is not pg_dump's custom format" % saved[0])
        print("step 6: downloaded %s" % saved[0])
        # The export's own page: its checksum, its copies and the history row that made it.
        self.open("/exports")
        self.driver.find_element(By.CSS_SELECTOR, "#exports-table td a").click()
        digest = self.wait.until(ready.presence_of_element_located((By.ID, "export-sha256"))).text
        made = [row.text for row in self.driver.find_elements(By.CSS_SELECTOR, "#export-history tbody tr") if " dump succeeded " in " " + row.text + " "]
        self.shot("6-export-detail")
        if len(digest) != 64 or not made:
            raise AssertionError("the export's page shows no checksum or no history row: %r %s" % (digest, made))
        print("step 6: the export's page shows its checksum %s... and its history row" % digest[:12])

        # 7. The overview's size chart, drawn on the server.
        self.open("/")
        chart = self.wait.until(ready.presence_of_element_located((By.ID, "growth-chart")))
        points = chart.find_element(By.CSS_SELECTOR, "polyline").get_attribute("points").split()
        self.shot("7-overview")
        if len(points) < 2:
            raise AssertionError("the growth chart has %d points" % len(points))
        print("step 7: the overview's growth chart has %d points" % len(points))

        # The overview's health: pg_stat_archiver, a gauge per volume, and "Check now", whose findings
        # stay on the overview after the page reloads.
        if int(self.text("archived-count")) < 1:
            raise AssertionError("pg_stat_archiver's count on the overview is %s" % self.text("archived-count"))
        gauges = self.driver.find_elements(By.CSS_SELECTOR, "#disks meter")
        if len(gauges) < 2:
            raise AssertionError("the overview has %d free-disk gauges" % len(gauges))
        earlier = self.driver.find_element(By.ID, "last-check-time").text if self.driver.find_elements(By.ID, "last-check-time") else ""
        self.driver.find_element(By.ID, "check-now").click()
        WebDriverWait(self.driver, 120).until(
            lambda d: d.find_elements(By.ID, "last-check-time") and d.find_element(By.ID, "last-check-time").text != earlier)
        result = self.driver.find_element(By.ID, "check-result")
        self.shot("7-overview-checked")
        print("step 7: %d disk gauges; check now: %s" % (len(gauges), result.text))

        # The Docs page: the repository's docs/backup-strategy.md, rendered by the server.
        self.open("/docs")
        article = self.wait.until(ready.presence_of_element_located((By.ID, "doc")))
        if "What is backed up" not in article.text or not article.find_elements(By.TAG_NAME, "table"):
            raise AssertionError("the Docs page does not show docs/backup-strategy.md: %s" % article.text[:200])
        self.driver.find_element(By.LINK_TEXT, "restore.md").click()
        self.wait.until(ready.url_contains("/docs/restore"))
        self.shot("8-docs")
        print("step 8: the docs page renders docs/*.md")

        # The browser's console saw no error (a script error, or anything the Content-Security-Policy
        # blocked); refused requests (the restore above) are the network's, and expected.
        errors = [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE" and e.get("source") != "network"]
        if errors:
            raise AssertionError("the browser logged errors: %s" % errors)


def main():
    parser = argparse.ArgumentParser()
    for name in ("--url", "--password", "--totp-secret", "--screenshots", "--pgdata", "--downloads", "--schema", "--files-tree"):
        parser.add_argument(name, required=True)
    steps = Steps(parser.parse_args())
    try:
        steps.run()
    except Exception as error:  # one line, then the page, for the test's message
        steps.shot("failure")
        print("FAILED: %s" % error, file=sys.stderr)
        print("at %s" % steps.driver.current_url, file=sys.stderr)
        sys.exit(1)
    finally:
        steps.driver.quit()


if __name__ == "__main__":
    main()
