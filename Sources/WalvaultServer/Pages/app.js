// walvault's dashboard: plain JavaScript, no build step, served from the binary. Every state
// change sends the session's CSRF token; destructive ones also send the typed word and a code.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function showError(text) {
  const box = document.getElementById("error");
  if (!box) return;
  box.textContent = text;
  box.hidden = !text;
}

async function api(method, path, body) {
  const headers = { "X-CSRF-Token": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (!response.ok) {
    const problem = data.problem ? data.problem + (data.fix ? "; " + data.fix : "") : "HTTP " + response.status;
    throw new Error(problem);
  }
  return data;
}

function goToJob(data, extra) {
  if (data && data.job_id) window.location.href = "/jobs/" + encodeURIComponent(data.job_id) + (extra || "");
}

function onLogin(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    try {
      await api("POST", "/api/session", {
        password: document.getElementById("password").value, totp: document.getElementById("totp").value.trim(),
      });
      window.location.href = "/";
    } catch (error) {
      showError(error.message);
    }
  });
}

function onPostButtons() {
  for (const button of document.querySelectorAll("button[data-post]")) {
    button.addEventListener("click", async () => {
      showError("");
      button.disabled = true;
      try {
        goToJob(await api("POST", button.dataset.post));
      } catch (error) {
        showError(error.message);
      } finally {
        button.disabled = false;
      }
    });
  }
}

// A button whose answer is kept server-side (a check's findings): ask, then show the page again.
function onGetButtons() {
  for (const button of document.querySelectorAll("button[data-get]")) {
    button.addEventListener("click", async () => {
      showError("");
      button.disabled = true;
      button.textContent = "Checking…";
      try {
        await api("GET", button.dataset.get);
        window.location.reload();
      } catch (error) {
        showError(error.message);
        button.disabled = false;
      }
    });
  }
}

// A form that posts its named fields as JSON and follows the job it starts.
function onJSONForms() {
  for (const form of document.querySelectorAll("form[data-post]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError("");
      const body = {};
      for (const [name, value] of new FormData(form).entries()) if (value !== "") body[name] = value;
      try {
        goToJob(await api("POST", form.dataset.post, body));
      } catch (error) {
        showError(error.message);
      }
    });
  }
}

function onRestore(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    const value = (id) => document.getElementById(id).value.trim();
    const body = { target_time: value("restore-target") || "latest", confirmation: value("restore-confirmation"), totp: value("restore-totp") };
    if (value("restore-backup")) body.backup_id = value("restore-backup");
    if (value("restore-pgdata")) body.pgdata = value("restore-pgdata");
    try {
      const data = await api("POST", "/api/restore", body);
      sessionStorage.setItem("walvault-next-" + data.job_id, JSON.stringify(data.next || []));
      goToJob(data);
    } catch (error) {
      showError(error.message);
    }
  });
}

function onDelete(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    try {
      goToJob(await api("DELETE", form.dataset.delete, {
        confirmation: document.getElementById("delete-confirmation").value.trim(),
        totp: document.getElementById("delete-totp").value.trim(),
      }));
    } catch (error) {
      showError(error.message);
    }
  });
}

function showJob(job) {
  document.getElementById("job-state").textContent = job.state;
  const progress = job.progress;
  document.getElementById("job-phase").textContent = progress ? progress.phase : "";
  const bar = document.getElementById("job-progress");
  if (job.state === "succeeded") bar.value = 100;
  else if (progress && progress.total) bar.value = Math.floor((100 * progress.done) / progress.total);
  document.getElementById("job-error").textContent = job.error || "";
  document.getElementById("job-cancel").hidden = job.state !== "running";
}

// Server-sent events while the job runs; polling when the stream is unavailable.
function followJob(section) {
  const id = section.dataset.job;
  const next = sessionStorage.getItem("walvault-next-" + id);
  if (next && !document.getElementById("switch-over")) {
    const list = document.createElement("ol");
    list.id = "switch-over";
    for (const line of JSON.parse(next)) {
      const item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    }
    section.appendChild(list);
  }
  let polling = null;
  const poll = () => {
    polling = setInterval(async () => {
      try {
        const job = await api("GET", "/api/jobs/" + encodeURIComponent(id));
        showJob(job);
        if (job.state !== "running") clearInterval(polling);
      } catch (error) {
        showError(error.message);
      }
    }, 1000);
  };
  if (!window.EventSource) return poll();
  const source = new EventSource("/api/jobs/" + encodeURIComponent(id) + "/events");
  source.addEventListener("status", (event) => {
    const job = JSON.parse(event.data);
    showJob(job);
    if (job.state !== "running") source.close();
  });
  source.onerror = () => {
    source.close();
    if (document.getElementById("job-state").textContent === "running" && polling === null) poll();
  };
}

document.addEventListener("DOMContentLoaded", () => {
  const login = document.getElementById("login-form");
  if (login) onLogin(login);
  const restore = document.getElementById("restore-form");
  if (restore) onRestore(restore);
  const remove = document.getElementById("delete-form");
  if (remove) onDelete(remove);
  const job = document.getElementById("job");
  if (job) followJob(job);
  onPostButtons();
  onGetButtons();
  onJSONForms();
  const logout = document.getElementById("logout");
  if (logout) logout.addEventListener("click", async () => {
    try { await api("DELETE", "/api/session"); } catch (e) { /* gone already */ }
    window.location.href = "/login";
  });
});
