// The Content section's recorder: record a prompt in the browser (MediaRecorder), listen back,
// and keep it (posted like the upload form, with its CSRF token). No inline script: the console's
// content security policy allows only this file. Its words come from the page (data- attributes of
// #recorder), in the console's language.
(function () {
  "use strict";
  var box = document.getElementById("recorder");
  if (!box || !window.MediaRecorder || !navigator.mediaDevices ||
      !navigator.mediaDevices.getUserMedia) {
    return;  // the upload form still works
  }
  var start = document.getElementById("record-start");
  var stop = document.getElementById("record-stop");
  var keep = document.getElementById("record-keep");
  var preview = document.getElementById("record-preview");
  var status = document.getElementById("record-status");
  var recorder = null;
  var take = null;
  box.hidden = false;

  start.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.addEventListener("dataavailable", function (event) {
        if (event.data && event.data.size) { chunks.push(event.data); }
      });
      recorder.addEventListener("stop", function () {
        stream.getTracks().forEach(function (track) { track.stop(); });
        take = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
        preview.src = URL.createObjectURL(take);
        preview.hidden = false;
        keep.disabled = false;
        start.disabled = false;
        status.textContent = box.dataset.listen;
      });
      recorder.start();
      start.disabled = true;
      stop.disabled = false;
      keep.disabled = true;
      status.textContent = box.dataset.recording;
    }, function () {
      status.textContent = box.dataset.noMicrophone;
    });
  });

  stop.addEventListener("click", function () {
    if (recorder && recorder.state !== "inactive") { recorder.stop(); }
    stop.disabled = true;
  });

  keep.addEventListener("click", function () {
    if (!take) { return; }
    var form = new FormData();
    var type = take.type.split(";")[0];
    var suffix = type.indexOf("ogg") >= 0 ? "ogg" : type.indexOf("mp4") >= 0 ? "m4a" : "webm";
    form.append("csrf_token", box.dataset.csrf);
    form.append("source", "browser");
    form.append("audio", take, "browser-take." + suffix);
    keep.disabled = true;
    status.textContent = box.dataset.keeping;
    fetch(box.dataset.upload, {
      method: "POST", body: form, credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () {
        return { ok: false,
                 message: box.dataset.answered.replace("{status}", response.status) };
      });
    }).then(function (answer) {
      if (answer.ok) { window.location.assign(answer.next); return; }
      status.textContent = answer.message;
      keep.disabled = false;
    }, function () {
      status.textContent = box.dataset.failed;
      keep.disabled = false;
    });
  });
}());
