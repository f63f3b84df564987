// Forms built from a worker's `parameters` ({type, required, default, help, min, max,
// choices} per config field), the "when" choice (now, delay, at, schedule), the server's
// 422 errors beside their fields, and the schedule preview computed by the server.
import { $, $$, h, isoToLocal, localToIso } from "./dom.js";
import { api } from "./api.js";

/** One input per config field, appended to `fieldset`. */
export function configFields(fieldset, parameters, values = {}) {
  fieldset.querySelectorAll(".field").forEach((el) => el.remove());
  // required fields first, then in name order (JSON objects from the server are sorted)
  const names = Object.keys(parameters).sort(
    (a, b) => Number(parameters[b].required) - Number(parameters[a].required) || a.localeCompare(b),
  );
  if (!names.length) fieldset.append(h("p", { class: "muted field" }, "This worker takes no config."));
  for (const name of names) fieldset.append(configField(name, parameters[name], values[name]));
}

function configField(name, param, value) {
  const id = `c-${name}`;
  const described = [param.help ? `h-${id}` : null, `e-${id}`].filter(Boolean).join(" ");
  const common = {
    id,
    name: `config.${name}`,
    "data-type": param.type,
    "aria-describedby": described,
    required: param.required && param.type !== "boolean",
  };
  const initial = value !== undefined ? value : param.default;
  let input;
  if (param.choices) {
    input = h(
      "select",
      common,
      param.required ? null : h("option", { value: "" }, "(default)"),
      param.choices.map((choice) =>
        h("option", { value: String(choice), selected: initial === choice }, String(choice)),
      ),
    );
  } else if (param.type === "boolean") {
    input = h("input", { ...common, type: "checkbox", checked: Boolean(initial) });
  } else if (param.type === "object" || param.type === "array") {
    input = h("textarea", { ...common, rows: 3, spellcheck: "false", placeholder: param.type === "array" ? "[]" : "{}" });
    if (initial !== null && initial !== undefined) input.value = JSON.stringify(initial, null, 2);
  } else if (param.type === "number" || param.type === "integer") {
    input = h("input", {
      ...common,
      type: "number",
      step: param.type === "integer" ? "1" : "any",
      min: param.min ?? null,
      max: param.max ?? null,
    });
    if (initial !== null && initial !== undefined) input.value = String(initial);
  } else {
    input = h("input", { ...common, type: "text", spellcheck: "false" });
    if (initial !== null && initial !== undefined) {
      input.value = typeof initial === "string" ? initial : JSON.stringify(initial);
    }
  }
  const range = [param.min !== undefined ? `min ${param.min}` : null, param.max !== undefined ? `max ${param.max}` : null]
    .filter(Boolean)
    .join(", ");
  const label = h(
    "label",
    { for: id },
    name,
    param.required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null,
    param.required ? h("span", { class: "visually-hidden" }, " (required)") : null,
    h("span", { class: "type" }, ` ${param.type}${range ? `, ${range}` : ""}`),
  );
  const field = h("div", { class: `field${param.type === "boolean" ? " check" : ""}` });
  if (param.type === "boolean") field.append(input, label);
  else field.append(label, input);
  if (param.help) field.append(h("p", { id: `h-${id}`, class: "help" }, param.help));
  field.append(h("p", { id: `e-${id}`, class: "field-error", "data-error-for": `config.${name}`, hidden: true }));
  return field;
}

/** The config object of the generated inputs; a JSON textarea that does not parse is a
 * field error (shown, and thrown as {errors}). */
export function readConfig(form) {
  const config = {};
  const errors = {};
  for (const input of $$("[name^='config.']", form)) {
    const name = input.name.slice("config.".length);
    const type = input.dataset.type;
    if (type === "boolean") {
      config[name] = input.checked;
      continue;
    }
    const raw = input.value.trim();
    if (raw === "") continue;
    if (type === "number" || type === "integer") config[name] = Number(raw);
    else if (type === "object" || type === "array") {
      try {
        config[name] = JSON.parse(raw);
      } catch {
        errors[name] = ["Not valid JSON."];
      }
    } else config[name] = input.value;
  }
  if (Object.keys(errors).length) throw { errors: { config: errors } };
  return config;
}

const numberOf = (form, name) => {
  const el = form.elements[name];
  return el && el.value.trim() !== "" ? Number(el.value) : undefined;
};

/** The trigger fields of a schedule form (cron or interval, zone, bounds, policies). */
export function readTrigger(form) {
  const kind = form.querySelector("input[name=trigger]:checked").value;
  const body = {
    start_at: localToIso(form.elements.start_at.value),
    end_at: localToIso(form.elements.end_at.value),
    overlap: form.elements.overlap.value,
    misfire: form.elements.misfire.value,
  };
  if (kind === "cron") {
    body.cron = form.elements.cron.value.trim();
    body.timezone = form.elements.timezone.value.trim() || undefined;
  } else {
    body.interval = numberOf(form, "interval");
  }
  return body;
}

/** The whole submit body of the form: config, when, options. */
export function readSubmit(form) {
  const body = { config: readConfig(form) };
  const when = form.querySelector("[name=when]:checked, input[type=hidden][name=when]").value;
  if (when === "delay") body.delay = numberOf(form, "delay") ?? 0;
  if (when === "at") body.execute_at = localToIso(form.elements.execute_at.value);
  if (when === "schedule") Object.assign(body, readTrigger(form));
  for (const name of ["timeout", "max_retries", "retry_backoff"]) body[name] = numberOf(form, name);
  return dropEmpty(body);
}

export function dropEmpty(body) {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined && v !== ""));
}

/** Show the 422's `errors` beside their fields; answers the messages that fit no field. */
export function showErrors(form, errors, focus = true) {
  clearErrors(form);
  const left = [];
  const flat = [];
  for (const [key, value] of Object.entries(errors || {})) {
    if (key === "config" && value && !Array.isArray(value) && typeof value === "object") {
      for (const [name, messages] of Object.entries(value)) flat.push([`config.${name}`, messages]);
    } else flat.push([key, value]);
  }
  let first = null;
  for (const [key, messages] of flat) {
    const text = Array.isArray(messages) ? messages.join(" ") : typeof messages === "string" ? messages : JSON.stringify(messages);
    const slot = form.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
    const input = form.elements[key];
    if (slot && input) {
      slot.textContent = text;
      slot.hidden = false;
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    } else left.push(`${key}: ${text}`);
  }
  if (first && focus) first.focus();
  return left;
}

export function clearErrors(form) {
  for (const slot of $$(".field-error[data-error-for]", form)) {
    slot.hidden = true;
    slot.textContent = "";
  }
  for (const el of $$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
}

/** Show the inputs of the chosen "when" and trigger kind. */
export function wireChoices(form) {
  const sync = () => {
    const whenInput = form.querySelector("[name=when]:checked, input[type=hidden][name=when]");
    const when = whenInput ? whenInput.value : "schedule";
    for (const el of $$("[data-when]", form)) el.hidden = el.dataset.when !== when;
    const kind = form.querySelector("input[name=trigger]:checked").value;
    for (const el of $$("[data-trigger]", form)) el.hidden = el.dataset.trigger !== kind;
  };
  form.addEventListener("change", (event) => {
    if (event.target.name === "when" || event.target.name === "trigger") sync();
  });
  sync();
  if (!form.elements.timezone.value) {
    form.elements.timezone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  }
}

/** Fill the trigger inputs from a stored schedule. */
export function fillTrigger(form, schedule) {
  const kind = schedule.cron !== null && schedule.cron !== undefined ? "cron" : "interval";
  form.querySelector(`input[name=trigger][value=${kind}]`).checked = true;
  form.elements.cron.value = schedule.cron || "";
  form.elements.interval.value = schedule.interval ?? "";
  form.elements.timezone.value = schedule.timezone || "";
  form.elements.start_at.value = isoToLocal(schedule.start_at);
  form.elements.end_at.value = isoToLocal(schedule.end_at);
  form.elements.overlap.value = schedule.overlap || "skip";
  form.elements.misfire.value = schedule.misfire || "run_once";
}

/** Keep the preview list in step with the trigger inputs (debounced, server-computed). */
export function wirePreview(form, scheduleId = "") {
  const list = $("#preview", form);
  const note = $("#preview-note", form);
  let timer = null;
  let seq = 0;
  const refresh = async () => {
    const trigger = readTrigger(form);
    const query = new URLSearchParams(dropEmpty({ ...trigger, overlap: undefined, misfire: undefined, schedule_id: scheduleId || undefined }));
    if (!trigger.cron && trigger.interval === undefined && !scheduleId) {
      list.replaceChildren();
      note.textContent = "Type a cron expression or an interval.";
      return;
    }
    const mine = ++seq;
    try {
      const { data } = await api(`/tasky/v1/schedules/preview?${query}`);
      if (mine !== seq) return;
      clearErrors(form);
      note.textContent = data.fire_times.length
        ? `In ${data.timezone}, with your local time beside it:`
        : "No fire time left (past end_at).";
      list.replaceChildren(
        ...data.fire_times.map((t) =>
          h("li", {}, h("time", { datetime: t.at }, t.local.replace("T", " ")), h("span", { class: "muted" }, ` · ${new Date(t.at).toLocaleString()}`)),
        ),
      );
    } catch (err) {
      if (mine !== seq) return;
      list.replaceChildren();
      note.textContent = err.status === 422 ? "The trigger is not valid yet." : `Preview failed: ${err.message}`;
      if (err.status === 422) showErrors(form, err.errors, false);
      else throw err;
    }
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  };
  for (const name of ["cron", "interval", "timezone", "start_at", "end_at"]) {
    form.elements[name].addEventListener("input", later);
  }
  form.addEventListener("change", (event) => {
    if (event.target.name === "trigger" || event.target.name === "when") later();
  });
  refresh();
}
