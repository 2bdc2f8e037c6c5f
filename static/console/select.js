// A list's "select all" box: the header checkbox data-select-all="<name>" ticks the rows' boxes of that name.
document.addEventListener("change", (event) => {
  const all = event.target.closest("input[data-select-all]");
  if (!all) return;
  for (const box of document.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`)) {
    box.checked = all.checked;
  }
});
