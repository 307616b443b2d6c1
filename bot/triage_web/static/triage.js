// Copy buttons: copy the text of the element named by data-copy to the clipboard.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const status = document.getElementById("copy-status");
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    status.textContent = "Kopierat.";
  } catch (e) {
    status.textContent = "Det gick inte att kopiera. Markera texten och kopiera den själv.";
  }
});
