"""Reading contributed files: media probing, EXIF, thumbnails, archives, dataset layouts. No
Django here."""
