// The Data page's upload refuses files over the size limit in the browser (dcc.Upload's max_size drops them
// without a word); this says so under the drop zone. The limit is the message element's data-max-bytes.
(function () {
    function check(files) {
        const box = document.getElementById('data-upload-too-large');
        if (!box || !files) { return; }
        const limit = Number(box.dataset.maxBytes);
        const tooLarge = Array.from(files).filter(f => f.size > limit);
        box.textContent = tooLarge.length ? tooLarge.map(f => `'${f.name}' (${(f.size / 1e6).toFixed(1)} MB)`)
            .join(', ') + ` ${tooLarge.length > 1 ? 'are' : 'is'} larger than the ${limit / 1e6} MB limit for one ` +
            'file and ' + (tooLarge.length > 1 ? 'were' : 'was') + ' not read. Split it, or ask the administrator to raise CARTSCOPE_MAX_FILE_MB.' : '';
    }
    function inUpload(target) { return target && target.closest && target.closest('#data-upload'); }
    document.addEventListener('change', e => { if (inUpload(e.target)) { check(e.target.files); } }, true);
    document.addEventListener('drop', e => { if (inUpload(e.target) && e.dataTransfer) { check(e.dataTransfer.files); } },
                              true);
})();
